/**
 * Shared pieces of the dataset loaders: the base class that turns per-index pixel writers into
 * `Batch`es, index checks, a small LRU cache, natural file-name ordering and cached file reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  DbpError,
  MissingFileError,
  readFileChecked,
  readTextChecked,
  statFileChecked,
  type Batch,
  type Dataset,
  type DatasetInfo,
} from '@dbp-bench/framework';

/** `U8_TO_UNIT[v] = v / 255` as float32, so byte images convert with one table lookup per value. */
export const U8_TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let i = 0; i < 256; i++) t[i] = i / 255;
  return t;
})();

/** Throw a typed error when an index is not an integer in [0, size). */
export function checkIndices(info: DatasetInfo, indices: readonly number[]): void {
  for (let i = 0; i < indices.length; i++) {
    const v = indices[i];
    if (!Number.isInteger(v) || v < 0 || v >= info.size) {
      throw new DbpError(
        'E_INDEX',
        `dataset ${info.id}/${info.split}: index ${v} (position ${i} of the request) is out of range; expected an integer in [0, ${info.size})`,
      );
    }
  }
}

/**
 * A dataset whose images are written one at a time into a preallocated NHWC float32 buffer.
 * Subclasses implement `writeImage`; labels are held in memory (they are small for every format).
 */
export abstract class ArrayBackedDataset implements Dataset {
  constructor(
    readonly info: DatasetInfo,
    /** Label of every index of the split. */
    protected readonly allLabels: Int32Array,
  ) {}

  /** Write image `index` (HWC, values in [0,1]) at `out[offset ...]`. */
  protected abstract writeImage(index: number, out: Float32Array, offset: number): void;

  async get(indices: readonly number[]): Promise<Batch> {
    checkIndices(this.info, indices);
    const [h, w, c] = this.info.shape;
    const per = h * w * c;
    const data = new Float32Array(indices.length * per);
    for (let i = 0; i < indices.length; i++) this.writeImage(indices[i], data, i * per);
    const labels = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) labels[i] = this.allLabels[indices[i]];
    return { images: tf.tensor4d(data, [indices.length, h, w, c], 'float32'), labels, indices: indices.slice() };
  }

  async labels(indices: readonly number[]): Promise<Int32Array> {
    return this.labelsSync(indices);
  }

  /** The labels are in memory, so they can be read synchronously (stratified subsets use this). */
  labelsSync(indices: readonly number[]): Int32Array {
    checkIndices(this.info, indices);
    const out = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) out[i] = this.allLabels[indices[i]];
    return out;
  }
}

/** Write `n` bytes of HWC uint8 pixels as [0,1] floats. */
export function writeBytes(src: Uint8Array, srcOffset: number, n: number, out: Float32Array, offset: number): void {
  for (let i = 0; i < n; i++) out[offset + i] = U8_TO_UNIT[src[srcOffset + i]];
}

/** A bounded least-recently-used cache. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(readonly capacity: number) {}
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }
  get size(): number {
    return this.map.size;
  }
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });
/** Natural order of file names: `val_2` before `val_10`; ties broken by code-unit order. */
export function naturalCompare(a: string, b: string): number {
  const c = collator.compare(a, b);
  return c !== 0 ? c : a < b ? -1 : a > b ? 1 : 0;
}

/** Code-unit (byte-wise for ASCII) order, the order of Python's `sorted()` on str. */
export function codeUnitCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const fileCache = new Map<string, { size: number; mtimeMs: number; data: Buffer }>();

/**
 * Read a whole file once per process: later calls return the same Buffer while size and mtime are
 * unchanged (a CIFAR batch file is read once however many datasets open it).
 */
export function readFileOnce(file: string, what = 'a data file'): Buffer {
  const abs = path.resolve(file);
  const st = statFileChecked(file, what);
  const hit = fileCache.get(abs);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.data;
  const data = readFileChecked(file, what);
  fileCache.set(abs, { size: st.size, mtimeMs: st.mtimeMs, data });
  return data;
}

/** Forget cached file contents (tests that rewrite files in place call this). */
export function clearFileCache(): void {
  fileCache.clear();
}

export function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The first candidate directory that contains `probe` (a file name), or a MissingFileError listing
 * every place that was looked at and what to do.
 */
export function findDataDir(candidates: readonly string[], probe: string, hint: string): string {
  for (const c of candidates) if (isFile(path.join(c, probe))) return c;
  // A probe that exists but is not a readable file (a directory, a socket): say so rather than "not found".
  for (const c of candidates) if (fs.existsSync(path.join(c, probe))) statFileChecked(path.join(c, probe), `the data file ${probe}`);
  const first = candidates[0];
  throw new MissingFileError(path.join(first, probe), `looked for ${probe} in ${candidates.map((c) => `'${c}'`).join(' and ')}. ${hint}`);
}

/** Lines of a text file, trimmed, without empty lines. */
export function readLines(file: string, what = 'a text file (one entry per line)'): string[] {
  return readTextChecked(file, what)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
}
