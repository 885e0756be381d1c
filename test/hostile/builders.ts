/**
 * Builders of hostile inputs, written into a temporary directory by each test: pickles opcode by
 * opcode, zip archives with chosen (possibly lying) sizes, `torch.save`-like zip and legacy
 * checkpoints, safetensors files, run configs and leaderboard entries. Nothing binary is committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { accuracyMetric, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { createClassifier, modelMetadata, modelStateDict, type RawTensor } from '@dbp-bench/models';

// ------------------------------------------------------------------------------------------------
// Pickles

/** Pickle opcodes, concatenated with `pkl(...)`. */
export const op = {
  proto: (v = 2): number[] => [0x80, v],
  stop: [0x2e],
  mark: [0x28],
  tuple: [0x74],
  emptyTuple: [0x29],
  emptyDict: [0x7d],
  emptyList: [0x5d],
  setitem: [0x73],
  setitems: [0x75],
  append: [0x61],
  reduce: [0x52],
  newobj: [0x81],
  build: [0x62],
  binpersid: [0x51],
  newFalse: [0x89],
  newTrue: [0x88],
  none: [0x4e],
  put: (k: number): number[] => [0x71, k],
  get: (k: number): number[] => [0x68, k],
  global: (mod: string, name: string): number[] => [0x63, ...Buffer.from(`${mod}\n${name}\n`, 'latin1')],
  str: (s: string): number[] => {
    const b = Buffer.from(s, 'utf8');
    const n = Buffer.alloc(4);
    n.writeUInt32LE(b.length);
    return [0x58, ...n, ...b];
  },
  int: (v: number): number[] => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    return [0x4a, ...b];
  },
  long1: (bytes: number[]): number[] => [0x8a, bytes.length, ...bytes],
};

/** Concatenate opcode arrays into pickle bytes. */
export function pkl(...parts: (number[] | Uint8Array)[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => Array.from(p)));
}

/** The 10-byte little-endian magic number of the legacy torch.save format, as LONG1. */
export const LEGACY_MAGIC = op.long1([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

/**
 * One tensor of a hand-made checkpoint; `stride`, `offset` and `storageNumel` may lie. Tensor i views
 * storage `storage` (default: its own, `String(i)`); a shared storage holds the data of its first tensor.
 */
export interface TensorSpec {
  name: string;
  shape: number[];
  data: Float32Array;
  stride?: number[];
  offset?: number;
  storageNumel?: number;
  storage?: string;
  /** The storage class named in the pickle (default FloatStorage). */
  storageType?: string;
}

const storageKey = (t: TensorSpec, i: number): string => t.storage ?? String(i);

/** The distinct storages of `tensors` in first-use order, with the data of their first tensor. */
function storagesOf(tensors: readonly TensorSpec[]): { key: string; data: Float32Array }[] {
  const out = new Map<string, Float32Array>();
  tensors.forEach((t, i) => {
    if (!out.has(storageKey(t, i))) out.set(storageKey(t, i), t.data);
  });
  return [...out].map(([key, data]) => ({ key, data }));
}

function contiguousStride(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

/** The data.pkl of `torch.save(OrderedDict(name -> tensor))`, storage i holding tensor i. */
export function stateDictPickle(tensors: readonly TensorSpec[]): Uint8Array {
  const parts: number[][] = [op.proto(2), op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce, op.mark];
  tensors.forEach((t, i) => {
    parts.push(op.str(t.name), op.global('torch._utils', '_rebuild_tensor_v2'), op.mark);
    parts.push(
      op.mark,
      op.str('storage'),
      op.global('torch', t.storageType ?? 'FloatStorage'),
      op.str(storageKey(t, i)),
      op.str('cpu'),
      op.int(t.storageNumel ?? t.data.length),
      op.tuple,
      op.binpersid,
    );
    parts.push(
      op.int(t.offset ?? 0),
      op.mark,
      ...t.shape.map(op.int),
      op.tuple,
      op.mark,
      ...(t.stride ?? contiguousStride(t.shape)).map(op.int),
      op.tuple,
    );
    parts.push(op.newFalse, op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce, op.tuple, op.reduce);
  });
  parts.push(op.setitems, op.stop);
  return pkl(...parts);
}

// ------------------------------------------------------------------------------------------------
// Zip archives

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipSpec {
  name: string;
  /** The uncompressed content (deflated when method is 8). */
  data?: Uint8Array;
  /** Already-compressed bytes to store as they are (with `size` declaring the inflated size). */
  raw?: Uint8Array;
  method?: number;
  /** Declared uncompressed size (default: the real one). */
  size?: number;
}

/** A zip archive; sizes in the directory may lie (`size`), and `entryCount` may overstate the count. */
export function zip(entries: readonly ZipSpec[], opts: { entryCount?: number } = {}): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const method = e.method ?? 0;
    const data = e.data ?? new Uint8Array(0);
    const body = e.raw ?? (method === 8 ? zlib.deflateRawSync(data) : data);
    const name = Buffer.from(e.name, 'utf8');
    const size = e.size ?? data.length;
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt16LE(method, 10);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(body.length, 20);
    cd.writeUInt32LE(size, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    locals.push(lh, name, Buffer.from(body));
    central.push(cd, name);
    offset += 30 + name.length + body.length;
  }
  const cdBuf = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  const count = opts.entryCount ?? entries.length;
  eocd.writeUInt16LE(Math.min(count, 0xfffe), 8);
  eocd.writeUInt16LE(Math.min(count, 0xfffe), 10);
  eocd.writeUInt32LE(cdBuf.length, 12);
  eocd.writeUInt32LE(offset, 16);
  if (count > 0xfffe) {
    // zip64: the record and its locator carry the (overstated) count
    const z = Buffer.alloc(56);
    z.writeUInt32LE(0x06064b50, 0);
    z.writeBigUInt64LE(44n, 4);
    z.writeBigUInt64LE(BigInt(count), 24);
    z.writeBigUInt64LE(BigInt(count), 32);
    z.writeBigUInt64LE(BigInt(cdBuf.length), 40);
    z.writeBigUInt64LE(BigInt(offset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(offset + cdBuf.length), 8);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    return Buffer.concat([...locals, cdBuf, z, loc, eocd]);
  }
  return Buffer.concat([...locals, cdBuf, eocd]);
}

/** A `torch.save` zip checkpoint (archive/data.pkl + archive/data/<i>) of the given tensors. */
export function torchZip(tensors: readonly TensorSpec[], opts: { pickle?: Uint8Array; skipStorage?: number } = {}): Buffer {
  return zip([
    { name: 'archive/data.pkl', data: opts.pickle ?? stateDictPickle(tensors) },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...storagesOf(tensors)
      .filter((_, i) => i !== opts.skipStorage)
      .map((st) => ({ name: `archive/data/${st.key}`, data: new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength) })),
  ]);
}

/** A legacy (pre-1.6) torch.save file: magic, protocol, sys_info, main pickle, key list, storages. */
export function torchLegacy(tensors: readonly TensorSpec[], opts: { main?: Uint8Array; counts?: number[] } = {}): Buffer {
  const parts: Uint8Array[] = [
    pkl(op.proto(2), LEGACY_MAGIC, op.stop),
    pkl(op.proto(2), [0x4d, 0xe9, 0x03], op.stop), // BININT2 1001
    pkl(op.proto(2), op.emptyDict, op.str('little_endian'), op.newTrue, op.setitem, op.stop),
    opts.main ?? stateDictPickle(tensors),
    pkl(op.proto(2), op.mark, ...storagesOf(tensors).map((st) => op.str(st.key)), [0x6c], op.stop), // LIST
  ];
  storagesOf(tensors).forEach((st, i) => {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(opts.counts?.[i] ?? st.data.length));
    parts.push(n, new Uint8Array(st.data.buffer, st.data.byteOffset, st.data.byteLength));
  });
  return Buffer.concat(parts);
}

// ------------------------------------------------------------------------------------------------
// Safetensors (raw header control)

/** A safetensors file from a header object and data bytes; `headerLength` may lie. */
export function safetensorsRaw(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number): Buffer {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const n = Buffer.alloc(8);
  n.writeBigUInt64LE(BigInt(headerLength ?? h.length));
  return Buffer.concat([n, h, data]);
}

// ------------------------------------------------------------------------------------------------
// A tiny classifier

/** The tensors (PyTorch layouts) and metadata of a tiny small-cnn (28x28x1, 10 classes, ~2,600 values). */
export function tinyClassifier(): { tensors: Map<string, RawTensor>; metadata: Record<string, string> } {
  const model = createClassifier('small-cnn', {
    numClasses: 10,
    inputShape: [28, 28, 1],
    mean: [0],
    std: [1],
    channels: [4, 4],
    hidden: 8,
  });
  try {
    return { tensors: modelStateDict(model), metadata: modelMetadata(model) };
  } finally {
    model.dispose();
  }
}

/** A state dict as TensorSpecs (contiguous, one storage each), `edit` applied to copies of the data. */
export function specsOf(tensors: Map<string, RawTensor>, edit: (name: string, data: Float32Array) => void = () => undefined): TensorSpec[] {
  return [...tensors].map(([name, t]) => {
    const data = Float32Array.from(t.data as Float32Array);
    edit(name, data);
    return { name, shape: [...t.shape], data };
  });
}

// ------------------------------------------------------------------------------------------------
// Run configs and entries

/** A valid run config on the synthetic dataset (28x28x1, 10 classes) with weights `weights`. */
export function validConfig(weights = 'w.safetensors'): Record<string, unknown> {
  return {
    name: 'hostile',
    dataset: { id: 'synthetic', options: { size: 4, imageSize: 28, channels: 1, numClasses: 10 }, subset: { kind: 'first', n: 2 } },
    classifier: { weights },
    defense: { id: 'identity' },
    attacks: [{ id: 'pgd', options: { steps: 1, eot: { samples: 1 } } }],
    evaluation: { batchSize: 2, sanityChecks: false },
    output: { dir: 'runs' },
  };
}

/** A valid measured entry (64 samples, l_inf 8/255, one attack). */
export function validEntry(id = 'hostile-entry'): LeaderboardEntry {
  const n = 64;
  const clean = accuracyMetric(58, n);
  const robust = accuracyMetric(30, n);
  return {
    schemaVersion: 1,
    id,
    kind: 'measured',
    name: 'Hostile test entry',
    paper: null,
    dataset: { id: 'cifar10', split: 'test', n, subset: { kind: 'first', n }, indicesHash: '0123456789abcdef' },
    threatModel: { id: 'linf-8_255', norm: 'linf', eps: { value: 8 / 255, display: '8/255' } },
    defense: {
      id: 'identity',
      family: 'none',
      options: {},
      capabilities: { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 },
    },
    classifier: { architecture: 'small-cnn', weights: 'w.safetensors', sha256: 'a'.repeat(64) },
    results: {
      clean,
      attacks: [
        {
          name: 'pgd',
          id: 'pgd',
          accuracy: robust,
          attacked: 58,
          checks: {
            ran: 58,
            robust: 30,
            reported: 58,
            gradientVanished: 0,
            stalled: 0,
            unmoved: 0,
            keptClean: 0,
            belowBudget: 0,
            unchecked: 0,
            flags: [],
          },
        },
      ],
      robust,
    },
    values: { reported: null, measured: { clean: clean.value, robust: robust.value, source: 'dbp-bench run 0123' }, bestKnown: null },
    protocol: {
      attacks: [
        {
          name: 'pgd',
          id: 'pgd',
          options: { steps: 20 },
          eot: 1,
          steps: 20,
          noisePolicy: 'fresh',
          gradient: 'exact',
          norm: 'linf',
          eps: 8 / 255,
        },
      ],
      purifications: 1,
    },
    flags: { randomized: false, forwardPasses: 1, unreliable: false, reducedProtocol: false, sanity: [], stalledAttack: false },
    provenance: { source: 'dbp-bench run', runHash: '0123' },
    resultsFile: null,
  };
}

/** Write `content` (JSON for objects) to `dir/name`, creating folders; returns the path. */
export function put(dir: string, name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content, null, 2));
  return file;
}
