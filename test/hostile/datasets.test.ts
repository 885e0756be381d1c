/**
 * Hostile dataset folders given to `dbp-bench data info <id> --data-dir <dir>`: missing and
 * misplaced files, truncated and corrupted binaries, out-of-range labels, a gzip bomb; and dataset
 * archives refused by the extraction limits (downloadable archives are checksum-verified first, so
 * these limits are a second line of defence, tested through the API).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { LIMITS, LimitExceededError } from '@dbp-bench/framework';
import { extractArchive } from '@dbp-bench/datasets';
import { put, zip } from './builders';
import { hostileRows, type HostileRow } from './harness';

const INFO = (id: string, dir: string, ...more: string[]): string[] => ['data', 'info', id, '--data-dir', dir, ...more];

/** One CIFAR-10 record (label byte + 3072 pixels). */
const cifarRecord = (label: number): Buffer => Buffer.concat([Buffer.from([label]), Buffer.alloc(3072, 128)]);

/** IDX3 images (n images of 28x28) and IDX1 labels. */
function idxImages(n: number, headerN = n, magic = 0x803): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32BE(magic, 0);
  h.writeUInt32BE(headerN, 4);
  h.writeUInt32BE(28, 8);
  h.writeUInt32BE(28, 12);
  return Buffer.concat([h, Buffer.alloc(n * 784, 7)]);
}
function idxLabels(labels: number[]): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(0x801, 0);
  h.writeUInt32BE(labels.length, 4);
  return Buffer.concat([h, Buffer.from(labels)]);
}

/** Row helper: `files` (name -> content) written under dir/data, then `data info <id> --data-dir dir/data`. */
function dataRow(
  name: string,
  id: string,
  files: Record<string, () => unknown>,
  expectRe: RegExp,
  names?: string,
  more: string[] = [],
): HostileRow {
  return {
    name,
    setup: (dir) => {
      const root = path.join(dir, 'data');
      fs.mkdirSync(root, { recursive: true });
      for (const [f, content] of Object.entries(files)) {
        if (f.endsWith('/')) fs.mkdirSync(path.join(root, f), { recursive: true });
        else put(root, f, content());
      }
      return { args: INFO(id, root, ...more), names: names ? path.join(root, names) : root };
    },
    expect: expectRe,
  };
}

const WNIDS = 'n01443537\nn01629819\n';

const ROWS: HostileRow[] = [
  // CIFAR-10
  {
    name: 'cifar10: the data folder does not exist',
    setup: (dir) => ({ args: INFO('cifar10', path.join(dir, 'nowhere')), names: 'nowhere' }),
    expect: /test_batch\.bin not found: looked for test_batch\.bin in/,
  },
  dataRow(
    'cifar10: test_batch.bin is a directory',
    'cifar10',
    { 'test_batch.bin/': () => '' },
    /test_batch\.bin: is a directory, expected the data file test_batch\.bin/,
    'test_batch.bin',
  ),
  dataRow(
    'cifar10: test_batch.bin is empty',
    'cifar10',
    { 'test_batch.bin': () => '' },
    /test_batch\.bin: the file is empty; expected a whole number of 3073-byte cifar10 records/,
    'test_batch.bin',
  ),
  dataRow(
    'cifar10: test_batch.bin cut mid-record',
    'cifar10',
    { 'test_batch.bin': () => Buffer.concat([cifarRecord(1), cifarRecord(2)]).subarray(0, 5000) },
    /size 5000 bytes is not a whole number of 3073-byte cifar10 records \(1 whole records and 1927 bytes left over\)/,
    'test_batch.bin',
  ),
  dataRow(
    'cifar10: a label byte out of range',
    'cifar10',
    { 'test_batch.bin': () => Buffer.concat([cifarRecord(3), cifarRecord(200)]) },
    /record 1 \(byte offset 3073\): label byte is 200, expected 0\.\.9/,
    'test_batch.bin',
  ),
  dataRow(
    'cifar10: class-name file with the wrong count',
    'cifar10',
    { 'test_batch.bin': () => cifarRecord(0), 'batches.meta.txt': () => 'cat\ndog\n' },
    /batches\.meta\.txt: expected 10 class names \(one per line\), found 2/,
    'batches.meta.txt',
  ),
  // MNIST (official IDX files)
  dataRow('mnist: no IDX files in the folder', 'mnist', { 'readme.txt': () => 'x' }, /t10k-images-idx3-ubyte\.gz not found: looked in/),
  dataRow(
    'mnist: a gzip bomb (70 MiB of zeros)',
    'mnist',
    { 't10k-images-idx3-ubyte.gz': () => zlib.gzipSync(Buffer.alloc(70 * 1024 * 1024)), 't10k-labels-idx1-ubyte': () => idxLabels([1]) },
    new RegExp(
      `t10k-images-idx3-ubyte\\.gz: the gzip data inflates to more than ${LIMITS.inflateMinBytes} bytes from \\d+ compressed bytes; refused as a decompression bomb`,
    ),
    't10k-images-idx3-ubyte.gz',
  ),
  dataRow(
    'mnist: truncated gzip',
    'mnist',
    { 't10k-images-idx3-ubyte.gz': () => zlib.gzipSync(idxImages(2)).subarray(0, 40), 't10k-labels-idx1-ubyte': () => idxLabels([1, 2]) },
    /the gzip data: gzip data is corrupted or truncated/,
    't10k-images-idx3-ubyte.gz',
  ),
  dataRow(
    'mnist: wrong magic number',
    'mnist',
    { 't10k-images-idx3-ubyte': () => idxImages(1, 1, 0x801), 't10k-labels-idx1-ubyte': () => idxLabels([1]) },
    /not an IDX3 image file: expected magic 0x00000803, found 0x00000801/,
    't10k-images-idx3-ubyte',
  ),
  dataRow(
    'mnist: header claims more images than the file has',
    'mnist',
    { 't10k-images-idx3-ubyte': () => idxImages(2, 60000), 't10k-labels-idx1-ubyte': () => idxLabels([1, 2]) },
    /header says 60000 images of 784 bytes .* the decompressed file has 1584 bytes/,
    't10k-images-idx3-ubyte',
  ),
  dataRow(
    'mnist: a label above 9',
    'mnist',
    { 't10k-images-idx3-ubyte': () => idxImages(2), 't10k-labels-idx1-ubyte': () => idxLabels([3, 12]) },
    /label 1 \(byte offset 9\) is 12, expected 0\.\.9/,
    't10k-labels-idx1-ubyte',
  ),
  dataRow(
    'mnist: the label file is missing',
    'mnist',
    { 't10k-images-idx3-ubyte': () => idxImages(2) },
    /t10k-labels-idx1-ubyte\.gz not found: the labels of/,
  ),
  // Image folder
  {
    name: 'image-folder: the root does not exist',
    setup: (dir) => ({ args: INFO('image-folder', path.join(dir, 'imgs')), names: 'imgs' }),
    expect: /imgs not found: expected a directory of class folders/,
  },
  dataRow(
    'image-folder: no class folders',
    'image-folder',
    { 'loose.JPEG': () => 'x' },
    /no class folders found; expected <root>\/<class>\/<image>/,
  ),
  dataRow(
    'image-folder: class folders without images',
    'image-folder',
    { 'cat/notes.txt': () => 'x', 'dog/': () => '' },
    /no image files with extension \.jpeg, \.jpg, \.png in the 2 class folders|no image files with extension .* in the 2 class folders/,
  ),
  dataRow(
    'image-folder: a corrupted JPEG',
    'image-folder',
    { 'cat/a.JPEG': () => Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 1, 2, 3]) },
    /a\.JPEG: cannot decode as JPEG .*; the file is corrupted or not a JPEG/,
    'cat/a.JPEG',
  ),
  // Tiny-ImageNet
  dataRow('tiny-imagenet: no wnids.txt', 'tiny-imagenet', { 'val/': () => '' }, /wnids\.txt not found: looked for wnids\.txt in/),
  dataRow(
    'tiny-imagenet: wnids.txt is a directory',
    'tiny-imagenet',
    { 'wnids.txt/': () => '' },
    /wnids\.txt: is a directory, expected the data file wnids\.txt/,
    'wnids.txt',
  ),
  dataRow(
    'tiny-imagenet: a wnid listed twice',
    'tiny-imagenet',
    { 'wnids.txt': () => 'n01443537\nn01443537\n' },
    /wnids\.txt: line 2: wnid n01443537 appears twice/,
    'wnids.txt',
  ),
  dataRow(
    'tiny-imagenet: val annotations missing',
    'tiny-imagenet',
    { 'wnids.txt': () => WNIDS },
    /val_annotations\.txt not found: the val split needs val\/val_annotations\.txt/,
  ),
  dataRow(
    'tiny-imagenet: a malformed annotation line',
    'tiny-imagenet',
    { 'wnids.txt': () => WNIDS, 'val/val_annotations.txt': () => 'val_0.JPEG\n' },
    /val_annotations\.txt: line 1: expected 'file<TAB>wnid<TAB>x0/,
    'val/val_annotations.txt',
  ),
  dataRow(
    'tiny-imagenet: an annotation with an unknown wnid',
    'tiny-imagenet',
    { 'wnids.txt': () => WNIDS, 'val/val_annotations.txt': () => 'val_0.JPEG\tn99999999\t0\t0\t63\t63\n' },
    /val_annotations\.txt: val_0\.JPEG: wnid n99999999 is not in wnids\.txt/,
    'val/val_annotations.txt',
  ),
  // Options
  {
    name: 'synthetic: size 0',
    setup: () => ({ args: ['data', 'info', 'synthetic', '--option', 'size=0'] }),
    expect: /options of dataset 'synthetic' is invalid:\s+- \$\.size: must be >= 1/,
  },
  {
    name: 'synthetic: --data-dir for a dataset that reads no files',
    setup: (dir) => ({ args: INFO('synthetic', dir) }),
    expect: /--data-dir for dataset 'synthetic' is invalid:\s+- dataset 'synthetic' reads no files/,
  },
];

describe('hostile inputs: dataset folders (dbp-bench data info)', () => {
  hostileRows(ROWS);
});

describe('hostile inputs: dataset archives (extraction limits)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-hostile-archive-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const refused = async (archive: string, format: 'zip' | 'tar.gz', re: RegExp): Promise<void> => {
    let err: unknown;
    try {
      await extractArchive({ file: path.basename(archive), format, topDir: 'top', expect: [] }, dir);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(LimitExceededError);
    expect((err as Error).message)
      .to.include(archive)
      .and.match(re);
    expect(
      fs.readdirSync(dir).filter((n) => n.startsWith('.extract-')),
      'the extraction folder is removed',
    ).to.deep.equal([]);
  };

  it('a zip whose entries inflate past max(64 MiB, 8x the archive) is refused from its directory', async () => {
    const big = zlib.deflateRawSync(Buffer.alloc(70 * 1024 * 1024));
    const file = put(dir, 'bomb.zip', zip([{ name: 'top/zeros.bin', raw: big, method: 8, size: 70 * 1024 * 1024 }]));
    await refused(file, 'zip', /extracts to more than 67108864 bytes .* at 'top\/zeros\.bin'.*decompression bomb/);
  });

  it('a tar.gz whose headers announce more than the limit is refused before the data is inflated', async () => {
    // One tar header announcing a 1 TiB file, then no data: refused at the header.
    const h = Buffer.alloc(512);
    h.write('top/huge.bin', 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write('20000000000\0', 124); // 1 TiB, octal
    h.write('00000000000\0', 136);
    h.write('0', 156);
    h.write('ustar\0' + '00', 257);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    const file = put(dir, 'bomb.tar.gz', zlib.gzipSync(Buffer.concat([h, Buffer.alloc(1024)])));
    await refused(file, 'tar.gz', /extracts to more than 67108864 bytes .* at 'top\/huge\.bin'/);
  });
});
