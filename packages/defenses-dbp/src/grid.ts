/**
 * Image grids for looking at purification: one row per tensor (e.g. original, purified), one column
 * per image, written as an RGB PNG.
 */
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { ShapeMismatchError, writeFileAtomic } from '@dbp-bench/framework';

export interface GridOptions {
  /** Pixels between cells (default 2). */
  readonly padding?: number;
  /** Integer upscale factor per pixel (default: 2 for images up to 64 px, else 1). */
  readonly scale?: number;
  /** Background grey level 0..255 (default 255). */
  readonly background?: number;
}

/**
 * Encode rows of NHWC [0,1] images (1 or 3 channels, all the same shape) as a PNG. Values are
 * clamped to [0,1] and rounded to 8 bits.
 */
export function imageGridPng(rows: readonly tf.Tensor4D[], options: GridOptions = {}): Buffer {
  if (rows.length === 0) throw new ShapeMismatchError('imageGridPng: no rows given');
  const [n, h, w, c] = rows[0].shape;
  for (const [i, r] of rows.entries()) {
    if (r.shape.join(',') !== rows[0].shape.join(',')) {
      throw new ShapeMismatchError(`imageGridPng: row ${i} has shape [${r.shape.join(',')}], row 0 has [${rows[0].shape.join(',')}]`);
    }
  }
  if (c !== 1 && c !== 3) throw new ShapeMismatchError(`imageGridPng: images must have 1 or 3 channels, got ${c}`);
  const pad = options.padding ?? 2;
  const scale = options.scale ?? (Math.max(h, w) <= 64 ? 2 : 1);
  const bg = options.background ?? 255;
  const cellW = w * scale;
  const cellH = h * scale;
  const width = n * cellW + (n + 1) * pad;
  const height = rows.length * cellH + (rows.length + 1) * pad;
  const png = new PNG({ width, height });
  png.data.fill(bg);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  rows.forEach((row, ri) => {
    const t8 = tf.tidy(() => tf.round(tf.mul(tf.clipByValue(row, 0, 1), 255)));
    const data = t8.dataSync();
    t8.dispose();
    for (let k = 0; k < n; k++) {
      const x0 = pad + k * (cellW + pad);
      const y0 = pad + ri * (cellH + pad);
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const src = ((k * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
          const dst = ((y0 + y) * width + (x0 + x)) * 4;
          png.data[dst] = data[src];
          png.data[dst + 1] = data[src + (c === 3 ? 1 : 0)];
          png.data[dst + 2] = data[src + (c === 3 ? 2 : 0)];
        }
      }
    }
  });
  return PNG.sync.write(png);
}

/** Write an image grid PNG atomically. */
export function writeImageGrid(file: string, rows: readonly tf.Tensor4D[], options: GridOptions = {}): void {
  writeFileAtomic(file, imageGridPng(rows, options));
}
