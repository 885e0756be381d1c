/**
 * Minimal safetensors reading and writing for float32 training state (optimizer slots, EMA weights)
 * and for restoring model weights by name on resume. Format: 8-byte little-endian header length,
 * a JSON header `{name: {dtype, shape, data_offsets}, __metadata__: {..strings..}}`, then raw data.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { DataFormatError, MissingFileError, writeFileAtomic } from '@dbp-bench/framework';

export interface F32Entry {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Write float32 tensors (in name order) and string metadata atomically. */
export function writeF32Safetensors(file: string, tensors: ReadonlyMap<string, tf.Tensor>, metadata: Record<string, string> = {}): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    if (t.dtype !== 'float32') throw new DataFormatError(file, `tensor '${name}' has dtype ${t.dtype}; only float32 is written here`);
    const data = t.dataSync() as Float32Array;
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
    chunks.push(data);
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data section starts 8-byte aligned (as the reference writer does).
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const c of chunks) {
    Buffer.from(c.buffer, c.byteOffset, c.byteLength).copy(out, pos);
    pos += c.byteLength;
  }
  writeFileAtomic(file, out);
}

/** Read every float32 tensor of a safetensors file (other dtypes are rejected) and its metadata. */
export function readF32Safetensors(file: string): { tensors: Map<string, F32Entry>; metadata: Record<string, string> } {
  if (!fs.existsSync(file)) throw new MissingFileError(file, 'expected a safetensors file');
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new DataFormatError(file, 'shorter than the 8-byte safetensors header length');
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new DataFormatError(file, `header length ${n} runs past the end of the file (${buf.length} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as typeof header;
  } catch (cause) {
    throw new DataFormatError(file, `header is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  const base = 8 + n;
  const tensors = new Map<string, F32Entry>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (e.dtype !== 'F32') throw new DataFormatError(file, `tensor '${name}' has dtype ${e.dtype}; expected F32`);
    const [a, b] = e.data_offsets;
    const count = e.shape.reduce((x, y) => x * y, 1);
    if (b - a !== count * 4 || base + b > buf.length)
      throw new DataFormatError(
        file,
        `tensor '${name}': data_offsets [${a}, ${b}] do not fit shape [${e.shape.join(',')}] or the file size`,
      );
    const data = new Float32Array(count);
    Buffer.from(data.buffer).set(buf.subarray(base + a, base + b));
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * Assign saved tensors to variables by name. Every variable must be present with the same shape;
 * extra tensors in the file are an error too (they mean a different architecture).
 */
export function assignByName(variables: ReadonlyMap<string, tf.Variable>, saved: ReadonlyMap<string, F32Entry>, source: string): void {
  const missing = [...variables.keys()].filter((k) => !saved.has(k));
  const extra = [...saved.keys()].filter((k) => !variables.has(k));
  if (missing.length || extra.length) {
    throw new DataFormatError(
      source,
      `weights do not match the model: ${missing.length ? `missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5})` : ''}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` (+${extra.length - 5})` : ''}` : ''}`,
    );
  }
  for (const [name, v] of variables) {
    const e = saved.get(name)!;
    if (e.shape.length !== v.shape.length || e.shape.some((d, i) => d !== v.shape[i])) {
      throw new DataFormatError(source, `weight '${name}' has shape [${e.shape.join(',')}], the model expects [${v.shape.join(',')}]`);
    }
    tf.tidy(() => v.assign(tf.tensor(e.data, v.shape, 'float32')));
  }
}
