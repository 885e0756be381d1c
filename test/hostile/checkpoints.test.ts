/**
 * Hostile PyTorch checkpoints given to `dbp-bench weights inspect` / `weights convert`: malformed and
 * oversized zip archives (decompression bombs, lying sizes), malformed and hostile pickles (code
 * execution attempts, value bombs, cycles), tensors that read outside or multiply their storage, and
 * NaN/Inf weights.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { LIMITS } from '@dbp-bench/framework';
import type { RawTensor } from '@dbp-bench/models';
import {
  op,
  pkl,
  put,
  specsOf,
  stateDictPickle,
  tinyClassifier,
  torchLegacy,
  torchZip,
  zip,
  LEGACY_MAGIC,
  type TensorSpec,
} from './builders';
import { hostileRows, runHostile, type HostileRow } from './harness';

let base: Map<string, RawTensor>;

const INSPECT = (file: string): string[] => ['weights', 'inspect', file];
const CONVERT = (file: string): string[] => ['weights', 'convert', file, `${file}.safetensors`, '--arch', 'small-cnn'];

/** A row that writes `content()` as model.pt and runs `args(file)` (inspect by default). */
function ptRow(
  name: string,
  content: () => Uint8Array,
  expectRe: RegExp,
  args: (file: string) => string[] = INSPECT,
  after?: (dir: string) => void,
): HostileRow {
  return {
    name,
    setup: (dir) => {
      const file = put(dir, 'model.pt', content());
      return { args: args(file), names: file };
    },
    expect: expectRe,
    after,
  };
}

/** One small tensor `w` of 4 values in its own storage. */
const small = (over: Partial<TensorSpec> = {}): TensorSpec => ({ name: 'w', shape: [4], data: Float32Array.from([1, 2, 3, 4]), ...over });

/** A zip checkpoint whose data.pkl is `pickle` (storages of `tensors` included). */
const zipWith = (pickle: Uint8Array, tensors: TensorSpec[] = []): Buffer => torchZip(tensors, { pickle });

/** Pickles that would run a command if a reader executed globals: os.system('touch <marker>') etc. */
function payload(mod: string, fn: string, marker: string): Uint8Array {
  return pkl(op.proto(2), op.global(mod, fn), op.mark, op.str(`touch ${marker}`), op.tuple, op.reduce, op.stop);
}
const noMarker = (dir: string): void => {
  expect(fs.existsSync(path.join(dir, 'pwned')), 'the payload must not have run').to.equal(false);
};

/** A pickled object whose `_modules` contains the object itself. */
const cyclicModule = pkl(
  op.proto(2),
  op.global('evil', 'Net'),
  op.emptyTuple,
  op.newobj,
  op.put(0),
  op.emptyDict,
  op.str('_parameters'),
  op.emptyDict,
  op.setitem,
  op.str('_modules'),
  op.emptyDict,
  op.str('self'),
  op.get(0),
  op.setitem,
  op.setitem,
  op.build,
  op.stop,
);

const ROWS: HostileRow[] = [
  // The file
  {
    name: 'checkpoint: missing file',
    setup: (dir) => ({ args: INSPECT(path.join(dir, 'none.pt')), names: 'none.pt' }),
    expect: /none\.pt not found: expected a weights file/,
  },
  {
    name: 'checkpoint: the path is a directory',
    setup: (dir) => ({ args: INSPECT(dir), names: dir }),
    expect: /is a directory, expected a weights file/,
  },
  ptRow('checkpoint: empty file', () => new Uint8Array(0), /wrong magic: starts with bytes \(empty file\)/),
  ptRow('checkpoint: random bytes', () => Buffer.from('GIF89a not a checkpoint'), /wrong magic: starts with bytes 47 49 46 38/),
  // Pickles that are not torch.save files, and code-execution attempts
  ptRow(
    'pickle: a plain pickled dict, not torch.save',
    () => pkl(op.proto(2), op.emptyDict, op.str('a'), op.int(1), op.setitem, op.stop),
    /wrong magic number at byte 0: the first pickle holds a dict with 1 key\(s\) \{"a"\}/,
  ),
  ptRow(
    'pickle: os.system payload (legacy layout)',
    () => payload('os', 'system', 'pwned'),
    /the first pickle holds an object of class os\.system/,
    INSPECT,
    noMarker,
  ),
  ptRow(
    'pickle: subprocess.Popen payload in data.pkl',
    () => zipWith(payload('subprocess', 'Popen', 'pwned')),
    /no state dict of tensors found .* top level: subprocess\.Popen/,
    INSPECT,
    noMarker,
  ),
  ptRow(
    'pickle: builtins.eval payload in data.pkl',
    () => zipWith(payload('builtins', 'eval', 'pwned')),
    /no state dict of tensors found .* top level: builtins\.eval/,
    INSPECT,
    noMarker,
  ),
  ptRow(
    'pickle: posix.system payload inside a state dict',
    () => zipWith(pkl(op.proto(2), op.emptyDict, op.str('w'), payload('posix', 'system', 'pwned').slice(2, -1), op.setitem, op.stop)),
    /no state dict of tensors found/,
    CONVERT,
    noMarker,
  ),
  // Malformed pickles
  ptRow(
    'pickle: unsupported opcode (EXT1)',
    () => zipWith(pkl(op.proto(2), [0x82, 1], op.stop)),
    /unsupported pickle opcode 0x82 \(EXT1\) at byte offset 2/,
  ),
  ptRow('pickle: no STOP opcode', () => zipWith(pkl(op.proto(2), op.emptyDict)), /truncated pickle: no STOP opcode/),
  ptRow('pickle: stack underflow', () => zipWith(pkl(op.proto(2), op.reduce, op.stop)), /malformed pickle: stack underflow at byte 2/),
  ptRow(
    'pickle: memo key never stored',
    () => zipWith(pkl(op.proto(2), op.get(7), op.stop)),
    /malformed pickle: memo key 7 read at byte 2 was never stored/,
  ),
  ptRow(
    'pickle: a string longer than the data',
    () => zipWith(pkl(op.proto(2), [0x58, 0xff, 0xff, 0xff, 0x7f], op.stop)),
    /truncated pickle: a 2147483647-byte string at byte 7/,
  ),
  ptRow(
    'pickle: more values than the limit (value bomb)',
    () => zipWith(pkl(op.proto(2), new Uint8Array(LIMITS.pickleObjects + 1).fill(0x5d), op.stop)),
    new RegExp(`the pickle creates more than ${LIMITS.pickleObjects} values`),
  ),
  ptRow(
    'pickle: a 100,000-byte integer',
    () => zipWith(pkl(op.proto(2), [0x8b, 0xa0, 0x86, 0x01, 0x00], new Uint8Array(100000).fill(7), op.stop)),
    /a pickled integer of 100000 bytes at byte 7; at most 1024/,
  ),
  ptRow('pickle: a module that contains itself', () => zipWith(cyclicModule), /pickled modules nest more than 64 deep/),
  ptRow(
    'pickle: a persistent id that is not a storage',
    () => zipWith(pkl(op.proto(2), op.emptyList, op.put(0), op.get(0), op.append, op.binpersid, op.stop)),
    /unsupported persistent id a tuple\/list of 1 item\(s\) \(\[\.\.\.\]\)/,
  ),
  ptRow(
    'pickle: no tensors at all',
    () => zipWith(pkl(op.proto(2), op.mark, op.int(1), op.int(2), [0x6c], op.stop)),
    /no state dict of tensors found \(looked at the root and under state_dict/,
  ),
  ptRow(
    'pickle: unsupported storage type',
    () => torchZip([small({ storageType: 'ComplexFloatStorage' })]),
    /unsupported storage type torch\.ComplexFloatStorage \(supported: FloatStorage/,
  ),
  // Zip archives
  ptRow(
    'zip: no data.pkl entry',
    () => zip([{ name: 'archive/readme.txt', data: Buffer.from('hi') }]),
    /zip archive without a data\.pkl entry \(entries: archive\/readme\.txt\)/,
  ),
  ptRow(
    'zip: cut short (no end-of-central-directory record)',
    () => torchZip([small()]).subarray(0, 60),
    /zip archive: no end-of-central-directory record/,
  ),
  ptRow(
    'zip: central directory beyond the end of the file',
    () => {
      const z = torchZip([small()]);
      z.writeUInt32LE(0x7fffffff, z.length - 6);
      return z;
    },
    /zip archive: central directory .* lies beyond the end of the file/,
  ),
  ptRow(
    'zip: unsupported compression method',
    () => zip([{ name: 'archive/data.pkl', data: stateDictPickle([]), method: 12 }]),
    /entry 'archive\/data\.pkl' uses compression method 12/,
  ),
  ptRow(
    'zip: decompression bomb (80 MiB of zeros in 80 KB)',
    () => zip([{ name: 'archive/data.pkl', data: new Uint8Array(80 * 1024 * 1024), method: 8 }]),
    /entry 'archive\/data\.pkl' declares 83886080 bytes inflated from \d+, more than the 67108864 bytes left .* refused as a decompression bomb/,
  ),
  ptRow(
    'zip: an entry inflating past its declared size',
    () => zip([{ name: 'archive/data.pkl', data: new Uint8Array(10 * 1024 * 1024), method: 8, size: 1000 }]),
    /zip entry 'archive\/data\.pkl' \(declared 1000 bytes\) inflates to more than 1000 bytes/,
  ),
  ptRow(
    'zip: a stored entry whose sizes disagree',
    () => zip([{ name: 'archive/data.pkl', data: stateDictPickle([]), size: 5 }]),
    /stored entry 'archive\/data\.pkl' declares 5 bytes but holds/,
  ),
  ptRow(
    'zip: 200,000 entries claimed',
    () => zip([{ name: 'archive/data.pkl', data: stateDictPickle([]) }], { entryCount: 200000 }),
    new RegExp(`zip archive: 200000 entries; at most ${LIMITS.zipEntries}`),
  ),
  ptRow(
    'zip: a storage without its data entry',
    () => torchZip([small()], { skipStorage: 0 }),
    /storage '0' has no entry archive\/data\/0 in the archive/,
  ),
  ptRow(
    'zip: a storage shorter than its element count',
    () => torchZip([small({ storageNumel: 1000 })]),
    /storage archive\/data\/0 holds 16 bytes, 1000 F32 elements need 4000/,
  ),
  // Tensors
  ptRow(
    'tensor: negative stride',
    () => torchZip([small({ shape: [2, 2], stride: [2, -1] })]),
    /tensor 'w': size \[2, 2\], stride \[2, -1\] and storage offset 0 must be non-negative integers/,
  ),
  ptRow(
    'tensor: negative storage offset',
    () => torchZip([small({ offset: -2 })]),
    /tensor 'w': .* storage offset -2 must be non-negative integers/,
  ),
  ptRow(
    'tensor: a view reading past its storage',
    () => torchZip([small({ shape: [2, 2], stride: [4, 1] })]),
    /tensor 'w': shape \[2, 2\] with stride \[4, 1\] and offset 0 reads past the end of storage '0'/,
  ),
  ptRow(
    'tensor: an expanded view of 10^8 elements over 4 values',
    () => torchZip([small({ shape: [10000, 10000], stride: [0, 0] })]),
    /tensor 'w': shape \[10000, 10000\] holds 100000000 elements, more than its storage '0' \(4\); overlapping \(expanded\) views are not supported/,
  ),
  ptRow(
    'tensor: 100 views of one 1 MiB storage (decoded-size limit)',
    () => {
      const data = new Float32Array(262144);
      return torchZip(Array.from({ length: 100 }, (_, i) => ({ name: `t${i}`, shape: [262144], data, storage: 'shared' })));
    },
    /its tensors decode to more than \d+ bytes from 1048576 bytes of storage \(at tensor 't\d+'\)/,
  ),
  ptRow(
    'tensor: rank of size and stride differ',
    () => torchZip([small({ shape: [4], stride: [1, 1] })]),
    /tensor 'w': size \[4\], stride \[1, 1\] .* of equal rank/,
  ),
  // Legacy format
  ptRow('legacy: negative storage element count', () => torchLegacy([small()], { counts: [-5] }), /storage '0': negative element count -5/),
  ptRow(
    'legacy: storage data cut short',
    () => torchLegacy([small()]).subarray(0, -8),
    /truncated: storage '0' needs 16 bytes from byte \d+, the file ends at byte \d+/,
  ),
  ptRow(
    'legacy: wrong protocol version',
    () => Buffer.concat([pkl(op.proto(2), LEGACY_MAGIC, op.stop), pkl(op.proto(2), op.int(7), op.stop)]),
    /legacy protocol version 7 at byte \d+, expected 1001/,
  ),
  // NaN / Inf weights through `weights convert`
  ptRow(
    'convert: NaN in a zip checkpoint',
    () => torchZip(specsOf(base, (n, d) => n === 'classifier.fc3.weight' && (d[3] = NaN))),
    /tensor 'classifier\.fc3\.weight' holds 1 non-finite value\(s\) \(the first, NaN, at flat index 3/,
    CONVERT,
  ),
  ptRow(
    'convert: Infinity in a legacy checkpoint',
    () => torchLegacy(specsOf(base, (n, d) => n === 'feature_extractor.conv2.bias' && (d[0] = Infinity))),
    /tensor 'feature_extractor\.conv2\.bias' holds 1 non-finite value\(s\) \(the first, Infinity/,
    CONVERT,
  ),
];

describe('hostile inputs: PyTorch checkpoints (dbp-bench weights inspect / convert)', () => {
  before(() => {
    base = tinyClassifier().tensors;
  });
  hostileRows(ROWS);

  it('a clean checkpoint built the same way converts (the builders make valid files)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-hostile-'));
    try {
      for (const bytes of [torchZip(specsOf(base)), torchLegacy(specsOf(base))]) {
        const file = put(dir, 'ok.pt', bytes);
        const o = await runHostile(CONVERT(file));
        expect(o.exit, o.text).to.equal(0);
        expect(o.text).to.match(/wrote .*ok\.pt\.safetensors: small-cnn/);
      }
      // A deflated (re-zipped) copy of a checkpoint is read as well: the inflation limit does not hit real data.
      const deflated = zip([
        { name: 'archive/data.pkl', data: stateDictPickle(specsOf(base)), method: 8 },
        ...specsOf(base).map((t, i) => ({ name: `archive/data/${i}`, data: new Uint8Array(t.data.buffer), method: 8 })),
      ]);
      const o = await runHostile(CONVERT(put(dir, 'deflated.pt', deflated)));
      expect(o.exit, o.text).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
