/**
 * Reading PyTorch checkpoints without Python: the zip format of `torch.save` (since 1.6:
 * `<archive>/data.pkl` + `<archive>/data/<key>`) and the legacy format (magic number, protocol
 * version, sys_info, the main pickle with persistent storage ids, the storage key list, then each
 * storage's raw bytes prefixed by its 8-byte element count). Tensors are rebuilt from
 * `torch._utils._rebuild_tensor_v2` (storage offset, size, stride; non-contiguous views gathered),
 * and the state dict is found under `state_dict` / `model_state_dict` / `net` / `model` / `ema`
 * keys or in a pickled nn.Module, with `module.` prefixes removed.
 */
import { DataFormatError, LIMITS, LimitExceededError, readFileChecked } from '@dbp-bench/framework';
import { PyGlobal, PyObject, describePyValue, unpickle } from './pickle';
import { ZipReader, isZip } from './zip';
import { decodeBytes, parseSafetensors, type RawTensor, type TensorData } from '../safetensors';

const STORAGE_DTYPES: Record<string, string> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};
const TORCH_DTYPES: Record<string, string> = {
  float32: 'F32',
  float: 'F32',
  float64: 'F64',
  double: 'F64',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const ELEM: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** A storage referenced from the pickle; its bytes are attached once read. */
export class TorchStorage {
  bytes?: Uint8Array;
  constructor(
    readonly key: string,
    readonly dtype: string,
    readonly numel: number,
    readonly location: string,
    /** Element offset into the root storage (legacy storage views). */
    readonly viewOffset = 0,
    readonly root?: TorchStorage,
  ) {}
}

/** A tensor as described by the pickle: a view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    /** dtype given explicitly (_rebuild_tensor_v3 over an untyped storage). */
    readonly dtypeOverride?: string,
  ) {}
  get dtype(): string {
    return this.dtypeOverride ?? this.storage.dtype;
  }
}

export interface TorchCheckpoint {
  file: string;
  format: 'zip' | 'legacy';
  /** The unpickled object: Maps for dicts, arrays for lists/tuples, TorchTensor for tensors, PyObject otherwise. */
  root: unknown;
}

function num(v: unknown, what: string, file: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new DataFormatError(file, `${what}: expected an integer, got ${typeof v}`);
}

function intList(v: unknown, what: string, file: string): number[] {
  if (!Array.isArray(v)) throw new DataFormatError(file, `${what}: expected a tuple of integers`);
  return v.map((e, i) => num(e, `${what}[${i}]`, file));
}

/** The call hook: tensor / parameter rebuild functions. */
function torchCall(file: string) {
  const call = (fn: PyGlobal, args: unknown[], depth = 0): unknown => {
    if (depth > 8) throw new DataFormatError(file, `${fn.qualname}: tensor rebuild calls nest more than 8 deep`);
    switch (fn.qualname) {
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor_v3': {
        const [storage, offset, size, stride] = args;
        if (!(storage instanceof TorchStorage)) throw new DataFormatError(file, `${fn.qualname}: the first argument is not a storage`);
        let dtype: string | undefined;
        if (fn.qualname.endsWith('_v3')) {
          const d = args[6];
          if (d instanceof PyGlobal && d.module === 'torch' && TORCH_DTYPES[d.name]) dtype = TORCH_DTYPES[d.name];
          else throw new DataFormatError(file, `${fn.qualname}: unsupported dtype ${d instanceof PyGlobal ? d.qualname : String(d)}`);
        }
        return new TorchTensor(
          storage,
          num(offset, 'storage offset', file),
          intList(size, 'tensor size', file),
          intList(stride, 'tensor stride', file),
          dtype,
        );
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
      case 'torch.nn.parameter.Parameter':
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2':
      case 'torch._tensor._rebuild_from_type': {
        const [f, , a] = args;
        return f instanceof PyGlobal ? call(f, Array.isArray(a) ? a : [], depth + 1) : undefined;
      }
      default:
        return undefined;
    }
  };
  return call;
}

function storageDtype(type: unknown, file: string): string {
  const name = type instanceof PyGlobal ? type.name : String(type);
  const d = STORAGE_DTYPES[name];
  if (!d)
    throw new DataFormatError(
      file,
      `unsupported storage type ${type instanceof PyGlobal ? type.qualname : name} (supported: ${Object.keys(STORAGE_DTYPES).join(', ')})`,
    );
  return d;
}

/** Read any PyTorch checkpoint (zip or legacy). */
export function readTorchCheckpoint(file: string, data?: Uint8Array): TorchCheckpoint {
  const buf = data ?? readFileChecked(file, 'a PyTorch checkpoint (.pt, .pth, .ckpt, .bin)');
  if (isZip(buf)) return readZip(file, buf);
  if (buf.length > 0 && buf[0] === 0x80) return readLegacy(file, buf);
  throw new DataFormatError(
    file,
    `wrong magic: starts with bytes ${Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ') || '(empty file)'}; a PyTorch checkpoint is a zip archive (50 4b 03 04) or a legacy pickle (80 ..)`,
  );
}

function readZip(file: string, buf: Uint8Array): TorchCheckpoint {
  const zip = new ZipReader(buf, file);
  const pkl = [...zip.entries.keys()].find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pkl)
    throw new DataFormatError(
      file,
      `zip archive without a data.pkl entry (entries: ${[...zip.entries.keys()].slice(0, 10).join(', ')}); not a torch.save archive`,
    );
  const prefix = pkl.slice(0, pkl.length - 'data.pkl'.length);
  const bo = zip.entries.has(`${prefix}byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}byteorder`)).trim() : 'little';
  if (bo !== 'little') throw new DataFormatError(file, `byteorder '${bo}' is not supported (only little-endian checkpoints)`);
  const storages = new Map<string, TorchStorage>();
  const where = `${file} (${pkl})`;
  const { value } = unpickle(zip.read(pkl), where, {
    call: torchCall(file),
    persistentLoad(pid) {
      if (!Array.isArray(pid) || pid[0] !== 'storage')
        throw new DataFormatError(where, `unsupported persistent id ${describePyValue(pid)}`);
      const key = String(pid[2]);
      let s = storages.get(key);
      if (!s) {
        const dtype = storageDtype(pid[1], file);
        s = new TorchStorage(key, dtype, num(pid[4], 'storage numel', file), String(pid[3]));
        const entry = `${prefix}data/${key}`;
        if (!zip.entries.has(entry)) throw new DataFormatError(file, `storage '${key}' has no entry ${entry} in the archive`);
        const bytes = zip.read(entry);
        if (bytes.length < s.numel * ELEM[dtype])
          throw new DataFormatError(
            file,
            `storage ${entry} holds ${bytes.length} bytes, ${s.numel} ${dtype} elements need ${s.numel * ELEM[dtype]}`,
          );
        s.bytes = bytes;
        storages.set(key, s);
      }
      return s;
    },
  });
  return { file, format: 'zip', root: value };
}

const MAGIC = 0x1950a86a20f9469cfc6cn;

function readLegacy(file: string, buf: Uint8Array): TorchCheckpoint {
  const first = unpickle(buf, file, {}, 0);
  if (first.value !== MAGIC && !(typeof first.value === 'bigint' && first.value === MAGIC)) {
    throw new DataFormatError(
      file,
      `wrong magic number at byte 0: the first pickle holds ${describePyValue(first.value)}, expected the integer 0x1950a86a20f9469cfc6c; this is a plain pickle, not a torch.save file`,
    );
  }
  const proto = unpickle(buf, file, {}, first.end);
  if (proto.value !== 1001)
    throw new DataFormatError(file, `legacy protocol version ${String(proto.value)} at byte ${first.end}, expected 1001`);
  const sys = unpickle(buf, file, {}, proto.end);
  if (sys.value instanceof Map && sys.value.get('little_endian') === false)
    throw new DataFormatError(file, 'big-endian checkpoints are not supported');
  const storages = new Map<string, TorchStorage>();
  const main = unpickle(
    buf,
    file,
    {
      call: torchCall(file),
      persistentLoad(pid) {
        if (!Array.isArray(pid) || pid[0] !== 'storage')
          throw new DataFormatError(file, `unsupported persistent id ${describePyValue(pid)}`);
        const [, type, rootKey, location, size, view] = pid as unknown[];
        const key = String(rootKey);
        let root = storages.get(key);
        if (!root) {
          root = new TorchStorage(key, storageDtype(type, file), num(size, 'storage size', file), String(location));
          storages.set(key, root);
        }
        if (Array.isArray(view) && view.length === 3) {
          const [, off, vsize] = view as unknown[];
          return new TorchStorage(
            `${key}[view]`,
            root.dtype,
            num(vsize, 'view size', file),
            root.location,
            num(off, 'view offset', file),
            root,
          );
        }
        return root;
      },
    },
    sys.end,
  );
  const keysP = unpickle(buf, file, {}, main.end);
  if (!Array.isArray(keysP.value))
    throw new DataFormatError(file, `expected the list of storage keys after the main pickle at byte ${main.end}`);
  let pos = keysP.end;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const k of keysP.value) {
    const key = String(k);
    const s = storages.get(key);
    if (!s) throw new DataFormatError(file, `storage key '${key}' in the key list was not referenced by the pickle`);
    if (pos + 8 > buf.length)
      throw new DataFormatError(file, `truncated: the size of storage '${key}' at byte ${pos} is missing (file has ${buf.length} bytes)`);
    const n = Number(dv.getBigInt64(pos, true));
    if (n < 0) throw new DataFormatError(file, `storage '${key}': negative element count ${n} at byte ${pos}`);
    pos += 8;
    const bytes = n * ELEM[s.dtype];
    if (pos + bytes > buf.length)
      throw new DataFormatError(
        file,
        `truncated: storage '${key}' needs ${bytes} bytes from byte ${pos}, the file ends at byte ${buf.length}`,
      );
    s.bytes = buf.subarray(pos, pos + bytes);
    pos += bytes;
  }
  return { file, format: 'legacy', root: main.value };
}

/** The values of a tensor as a contiguous row-major typed array (F16/BF16 decoded to float32). */
export function materialize(t: TorchTensor, file: string, name = '?'): RawTensor {
  const s = t.storage.root ?? t.storage;
  if (!s.bytes) throw new DataFormatError(file, `tensor '${name}': the data of storage '${s.key}' was not found`);
  const dtype = t.dtype;
  const es = ELEM[dtype];
  const base = (t.storage.viewOffset * ELEM[t.storage.dtype]) / es + t.offset;
  const shape = t.shape;
  const isCount = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;
  if (!shape.every(isCount) || !t.stride.every(isCount) || !isCount(base) || t.stride.length !== shape.length) {
    throw new DataFormatError(
      file,
      `tensor '${name}': size [${shape.join(', ')}], stride [${t.stride.join(', ')}] and storage offset ${t.offset} must be non-negative integers of equal rank`,
    );
  }
  const numel = shape.reduce((a, b) => a * b, 1);
  if (numel === 0) return { dtype, shape, data: decodeBytes(new Uint8Array(0), dtype) };
  if (numel * es > s.bytes.length) {
    // Only an overlapping view (stride 0, i.e. torch's expand) has more elements than its storage:
    // refused, so a small file cannot decode to an arbitrarily large tensor.
    throw new DataFormatError(
      file,
      `tensor '${name}': shape [${shape.join(', ')}] holds ${numel} elements, more than its storage '${s.key}' (${Math.floor(s.bytes.length / es)}); overlapping (expanded) views are not supported`,
    );
  }
  let maxIndex = base;
  for (let i = 0; i < shape.length; i++) maxIndex += (shape[i] - 1) * t.stride[i];
  if ((maxIndex + 1) * es > s.bytes.length) {
    throw new DataFormatError(
      file,
      `tensor '${name}': shape [${shape.join(', ')}] with stride [${t.stride.join(', ')}] and offset ${t.offset} reads past the end of storage '${s.key}' (${s.bytes.length / es} elements)`,
    );
  }
  let contiguous = true;
  for (let i = shape.length - 1, expect = 1; i >= 0; i--) {
    if (shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= shape[i];
  }
  if (contiguous) return { dtype, shape, data: decodeBytes(s.bytes.subarray(base * es, (base + numel) * es), dtype) };
  // Gather a strided view element by element (bytes, so every dtype works the same).
  const out = new Uint8Array(numel * es);
  const idx = new Array(shape.length).fill(0);
  for (let k = 0; k < numel; k++) {
    let src = base;
    for (let d = 0; d < shape.length; d++) src += idx[d] * t.stride[d];
    out.set(s.bytes.subarray(src * es, src * es + es), k * es);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape, data: decodeBytes(out, dtype) };
}

// ------------------------------------------------------------------------------------------------
// Finding the state dict

const STATE_KEYS = ['state_dict', 'model_state_dict', 'net', 'model', 'ema', 'ema_model', 'module', 'params', 'weights'];

function getKey(obj: unknown, k: string): unknown {
  if (obj instanceof Map) return obj.get(k);
  if (obj instanceof PyObject) {
    if (obj.dict.has(k)) return obj.dict.get(k);
    if (obj.state instanceof Map) return obj.state.get(k);
  }
  return undefined;
}

/** Nesting of pickled nn.Modules followed (a real network nests < 20 deep; a cycle would never end). */
const MAX_MODULE_DEPTH = 64;

/** Tensors of a pickled nn.Module (its _parameters, _buffers and _modules). */
function flattenModule(obj: PyObject, prefix: string, out: Map<string, TorchTensor>, file: string, depth = 0): void {
  if (depth > MAX_MODULE_DEPTH)
    throw new DataFormatError(file, `pickled modules nest more than ${MAX_MODULE_DEPTH} deep at '${prefix}' (a cycle, or not a network)`);
  const st = obj.state instanceof Map ? obj.state : undefined;
  if (!st) return;
  for (const part of ['_parameters', '_buffers']) {
    const m: unknown = st.get(part);
    if (m instanceof Map) for (const [k, v] of m) if (v instanceof TorchTensor) out.set(`${prefix}${String(k)}`, v);
  }
  const mods: unknown = st.get('_modules');
  if (mods instanceof Map)
    for (const [k, v] of mods) if (v instanceof PyObject) flattenModule(v, `${prefix}${String(k)}.`, out, file, depth + 1);
}

function isModule(v: unknown): v is PyObject {
  return v instanceof PyObject && v.state instanceof Map && v.state.has('_parameters');
}

/** The tensors directly in a dict (a state dict when most values are tensors). */
function tensorsOf(m: Map<unknown, unknown>): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  for (const [k, v] of m) if (v instanceof TorchTensor) out.set(String(k), v);
  return out;
}

export interface StateDictResult {
  tensors: Map<string, RawTensor>;
  /** Where it was found, e.g. `(root)`, `state_dict`, `net`, `ema`. */
  path: string;
  /** Prefixes removed from every name, e.g. `module.`. */
  strippedPrefix: string;
}

/**
 * Find the state dict in an unpickled checkpoint: `key` (dotted path) when given, else the root if it
 * is one, else the first of state_dict / model_state_dict / net / model / ema / ... that is one
 * (recursively), or a pickled nn.Module. `module.` (DataParallel) and `_orig_mod.` (torch.compile)
 * prefixes shared by every name are removed.
 */
export function extractStateDict(ck: TorchCheckpoint, key?: string): StateDictResult {
  let found: Map<string, TorchTensor> | undefined;
  let where = '(root)';
  const visit = (obj: unknown, p: string, depth: number): boolean => {
    if (depth > 4) return false;
    if (obj instanceof Map) {
      const t = tensorsOf(obj);
      if (t.size > 0 && t.size * 2 >= obj.size) {
        found = t;
        where = p;
        return true;
      }
    }
    if (isModule(obj)) {
      const t = new Map<string, TorchTensor>();
      flattenModule(obj, '', t, ck.file);
      if (t.size) {
        found = t;
        where = p;
        return true;
      }
    }
    for (const k of STATE_KEYS) {
      const v = getKey(obj, k);
      if (v !== undefined && visit(v, p === '(root)' ? k : `${p}.${k}`, depth + 1)) return true;
    }
    return false;
  };
  if (key) {
    let obj: unknown = ck.root;
    for (const part of key.split('.')) {
      obj = getKey(obj, part);
      if (obj === undefined) throw new DataFormatError(ck.file, `key '${key}' not found (no '${part}' at that level)`);
    }
    if (!visit(obj, key, 4)) throw new DataFormatError(ck.file, `key '${key}' does not hold a state dict of tensors`);
  } else if (!visit(ck.root, '(root)', 0)) {
    const top =
      ck.root instanceof Map ? [...ck.root.keys()].map(String).join(', ') : ck.root instanceof PyObject ? ck.root.cls : typeof ck.root;
    throw new DataFormatError(
      ck.file,
      `no state dict of tensors found (looked at the root and under ${STATE_KEYS.join('/')}); top level: ${top}. Name the key with --key`,
    );
  }
  let names = [...found!.keys()];
  let stripped = '';
  for (const pre of ['module.', '_orig_mod.']) {
    while (names.length && names.every((n) => n.startsWith(pre))) {
      stripped += pre;
      names = names.map((n) => n.slice(pre.length));
    }
  }
  // Tensors may share storages (tied weights, legacy views), but all of them together may decode to
  // at most LIMITS.tensorExpansion times the bytes of the storages they read (F16 doubles in F32).
  const roots = new Set<TorchStorage>();
  for (const t of found!.values()) roots.add(t.storage.root ?? t.storage);
  let storageBytes = 0;
  for (const r of roots) storageBytes += r.bytes?.length ?? 0;
  const budget = LIMITS.tensorExpansion * storageBytes + LIMITS.inflateMinBytes;
  let decoded = 0;
  const tensors = new Map<string, RawTensor>();
  for (const [name, t] of found!) {
    // materialize refuses a tensor larger than its storage before allocating it
    const raw = materialize(t, ck.file, name);
    decoded += raw.data.byteLength;
    if (decoded > budget) {
      throw new LimitExceededError(
        ck.file,
        `its tensors decode to more than ${budget} bytes from ${storageBytes} bytes of storage (at tensor '${name}'); refused (limit: ${LIMITS.tensorExpansion}x the storage bytes, plus ${LIMITS.inflateMinBytes})`,
      );
    }
    tensors.set(name.slice(stripped.length), raw);
  }
  return { tensors, path: where, strippedPrefix: stripped };
}

/** Renames of older diffusers checkpoints (AttentionBlock query/key/value/proj_attn) to the current names. */
export function renameLegacyDiffusers(tensors: Map<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [k, v] of tensors) {
    const n = k
      .replace(/(attentions\.\d+)\.query\./, '$1.to_q.')
      .replace(/(attentions\.\d+)\.key\./, '$1.to_k.')
      .replace(/(attentions\.\d+)\.value\./, '$1.to_v.')
      .replace(/(attentions\.\d+)\.proj_attn\./, '$1.to_out.0.');
    out.set(n, v);
  }
  return out;
}

/**
 * Read the tensors of any supported weights file: a PyTorch checkpoint (zip or legacy) or a
 * safetensors file (e.g. a diffusers `diffusion_pytorch_model.safetensors`).
 */
export function readWeightsFile(
  file: string,
  key?: string,
): StateDictResult & { format: 'zip' | 'legacy' | 'safetensors'; metadata?: Record<string, string> } {
  const buf = readFileChecked(file, 'a weights file (.safetensors, .pt, .pth, .ckpt, .bin)');
  if (!isZip(buf) && buf[0] !== 0x80 && buf.length >= 9 && buf[8] === 0x7b /* '{' */) {
    const st = parseSafetensors(buf, file);
    let names = [...st.tensors.keys()];
    let stripped = '';
    while (names.length && names.every((n) => n.startsWith('module.'))) {
      stripped += 'module.';
      names = names.map((n) => n.slice(7));
    }
    const tensors = new Map([...st.tensors].map(([k, v]) => [k.slice(stripped.length), v] as [string, RawTensor]));
    return { tensors, path: '(root)', strippedPrefix: stripped, format: 'safetensors', metadata: st.metadata };
  }
  const ck = readTorchCheckpoint(file, buf);
  return { ...extractStateDict(ck, key), format: ck.format };
}

export type { TensorData };
