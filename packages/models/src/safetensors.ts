/**
 * safetensors read/write (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length N, N bytes of JSON (`{"__metadata__": {string: string}, "<name>": {"dtype", "shape",
 * "data_offsets": [begin, end]}}`, offsets relative to the data section), then the raw little-endian data.
 */
import { DataFormatError, readFileChecked, writeFileAtomic } from '@dbp-bench/framework';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * One tensor as stored. `dtype` is the safetensors name (F32, F16, ...). F16 and BF16 data are decoded
 * to Float32Array on read; BOOL is Uint8Array; I64/U64 are BigInt arrays.
 */
export interface RawTensor {
  dtype: string;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsContents {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Decode IEEE half-precision bits to float32. */
export function halfToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const f = h & 0x3ff;
    if (e === 0) out[i] = s * f * 2 ** -24;
    else if (e === 31) out[i] = f ? NaN : s * Infinity;
    else out[i] = s * (1 + f / 1024) * 2 ** (e - 15);
  }
  return out;
}

/** Decode bfloat16 bits to float32. */
export function bfloat16ToFloat32(bits: Uint16Array): Float32Array {
  const u = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return new Float32Array(u.buffer);
}

/** Interpret little-endian bytes (copied, so alignment does not matter) as the dtype's typed array. */
export function decodeBytes(bytes: Uint8Array, dtype: string): TensorData {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const b = copy.buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(b);
    case 'F32':
      return new Float32Array(b);
    case 'F16':
      return halfToFloat32(new Uint16Array(b));
    case 'BF16':
      return bfloat16ToFloat32(new Uint16Array(b));
    case 'I64':
      return new BigInt64Array(b);
    case 'U64':
      return new BigUint64Array(b);
    case 'I32':
      return new Int32Array(b);
    case 'U32':
      return new Uint32Array(b);
    case 'I16':
      return new Int16Array(b);
    case 'U16':
      return new Uint16Array(b);
    case 'I8':
      return new Int8Array(b);
    case 'U8':
    case 'BOOL':
      return copy;
    default:
      throw new Error(`unsupported dtype ${dtype}`);
  }
}

/** Parse safetensors bytes; `file` names the source in errors. */
export function parseSafetensors(buf: Uint8Array, file = '<buffer>'): SafetensorsContents {
  if (buf.length < 8)
    throw new DataFormatError(file, `truncated: ${buf.length} bytes, a safetensors file starts with an 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > buf.length - 8 || n > 100 * 1024 * 1024) {
    throw new DataFormatError(
      file,
      `header length ${n} at byte 0 exceeds the file size ${buf.length} (truncated file, or not a safetensors file)`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString('utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new DataFormatError(file, `the header (bytes 8..${8 + n}) is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new DataFormatError(file, 'the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, RawTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object') throw new DataFormatError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new DataFormatError(file, `__metadata__.${k} must be a string, got ${typeof v}`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !(e.dtype in BYTES))
      throw new DataFormatError(
        file,
        `tensor '${name}': unknown dtype ${JSON.stringify(e?.dtype)} (expected one of ${Object.keys(BYTES).join(', ')})`,
      );
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new DataFormatError(file, `tensor '${name}': shape must be an array of non-negative integers`);
    const offsets = e.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((d) => Number.isInteger(d) && d >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new DataFormatError(file, `tensor '${name}': data_offsets must be [begin, end]`);
    }
    const off = offsets as [number, number];
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    const bytes = count * BYTES[e.dtype];
    if (off[1] - off[0] !== bytes) {
      throw new DataFormatError(
        file,
        `tensor '${name}': data_offsets [${off[0]}, ${off[1]}] hold ${off[1] - off[0]} bytes, shape [${(e.shape as number[]).join(', ')}] of ${e.dtype} needs ${bytes}`,
      );
    }
    if (off[1] > dataLen) {
      throw new DataFormatError(
        file,
        `tensor '${name}': data ends at byte ${dataStart + off[1]} but the file has ${buf.length} bytes (truncated)`,
      );
    }
    const data = decodeBytes(buf.subarray(dataStart + off[0], dataStart + off[1]), e.dtype);
    tensors.set(name, { dtype: e.dtype, shape: [...(e.shape as number[])], data });
  }
  return { tensors, metadata };
}

/** Read a safetensors file. */
export function readSafetensors(file: string): SafetensorsContents {
  return parseSafetensors(readFileChecked(file, 'a .safetensors weights file'), file);
}

function dtypeOf(data: TensorData, declared?: string): string {
  if (data instanceof Float32Array)
    return declared === 'F32' || declared === undefined || declared === 'F16' || declared === 'BF16' ? 'F32' : declared;
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int16Array) return 'I16';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return declared === 'BOOL' ? 'BOOL' : 'U8';
  if (data instanceof Uint16Array) return 'U16';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof BigInt64Array) return 'I64';
  return 'U64';
}

/**
 * Encode tensors + metadata to safetensors bytes. Float32Array data is written as F32 (F16/BF16
 * tensors read earlier are written back as F32). Tensors are written in name order.
 */
export function encodeSafetensors(
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = [...(tensors instanceof Map ? tensors.entries() : Object.entries(tensors))].sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(`tensor '${name}': shape [${t.shape.join(', ')}] holds ${count} values, data has ${t.data.length}`);
    const dtype = dtypeOf(t.data, t.dtype);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((Buffer.byteLength(json) + 8) % 8)) % 8;
  json += ' '.repeat(pad);
  const hbytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Write a safetensors file atomically. */
export function writeSafetensors(
  file: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(file, encodeSafetensors(tensors, metadata));
}
