/**
 * JPEG decoding (jpeg-js, forced to 3 channels) and the torchvision-style `Resize(shorter side)` +
 * `CenterCrop` used for ImageNet-style folders.
 */
import * as jpeg from 'jpeg-js';
import { DataFormatError, readFileChecked } from '@dbp-bench/framework';

/** An RGB image, HWC. `data` is bytes (decoded) or floats in [0,255] (resampled). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array | Float32Array;
}

/**
 * Decode a JPEG to RGB bytes. Greyscale JPEGs are expanded to 3 equal channels (jpeg-js decodes
 * to RGBA; the alpha channel is dropped). Throws DataFormatError naming the file on bad data.
 */
export function decodeJpegRgb(buf: Uint8Array, file: string): RgbImage {
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: 200 });
  } catch (cause) {
    throw new DataFormatError(file, `cannot decode as JPEG (${(cause as Error).message ?? cause}); the file is corrupted or not a JPEG`, {
      cause,
    });
  }
  const n = img.width * img.height;
  if (!(n > 0) || img.data.length < n * 4)
    throw new DataFormatError(file, `JPEG decoded to ${img.width}×${img.height} with ${img.data.length} bytes, expected ${n * 4}`);
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    rgb[i * 3] = img.data[i * 4];
    rgb[i * 3 + 1] = img.data[i * 4 + 1];
    rgb[i * 3 + 2] = img.data[i * 4 + 2];
  }
  return { width: img.width, height: img.height, data: rgb };
}

/** Read and decode a JPEG file. */
export function readJpegRgb(file: string): RgbImage {
  return decodeJpegRgb(readFileChecked(file, 'a JPEG image file'), file);
}

/** Python's round(): halves to even (torchvision's CenterCrop offsets use it). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Output size of torchvision `Resize(size)` with an int size: the shorter side becomes `size`, the
 * longer `floor(size * long / short)`.
 */
export function resizeShorterSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.floor((size * height) / width) };
  return { width: Math.floor((size * width) / height), height: size };
}

/** Filter taps of PIL's antialiased bilinear (triangle) resampling along one axis. */
function taps(inSize: number, outSize: number): { start: Int32Array; count: Int32Array; weights: Float32Array; maxTaps: number } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * maxTaps);
  for (let x = 0; x < outSize; x++) {
    const center = (x + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    const n = xmax - xmin;
    for (let k = 0; k < n; k++) {
      const t = Math.abs((k + xmin - center + 0.5) / filterScale);
      const w = t < 1 ? 1 - t : 0;
      weights[x * maxTaps + k] = w;
      total += w;
    }
    if (total > 0) for (let k = 0; k < n; k++) weights[x * maxTaps + k] /= total;
    start[x] = xmin;
    count[x] = n;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resize an RGB image with antialiased bilinear resampling (the triangle filter PIL and
 * torchvision use; kept in float, without PIL's intermediate rounding to bytes). Output in [0,255].
 */
export function resizeBilinear(img: RgbImage, outW: number, outH: number): RgbImage {
  if (outW === img.width && outH === img.height) return img;
  const { width: w, height: h, data } = img;
  const hx = taps(w, outW);
  // horizontal pass: h × outW
  const tmp = new Float32Array(h * outW * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < outW; x++) {
      let r = 0,
        g = 0,
        b = 0;
      const s = hx.start[x];
      for (let k = 0; k < hx.count[x]; k++) {
        const wgt = hx.weights[x * hx.maxTaps + k];
        const o = (y * w + s + k) * 3;
        r += wgt * data[o];
        g += wgt * data[o + 1];
        b += wgt * data[o + 2];
      }
      const o = (y * outW + x) * 3;
      tmp[o] = r;
      tmp[o + 1] = g;
      tmp[o + 2] = b;
    }
  }
  const vy = taps(h, outH);
  const out = new Float32Array(outH * outW * 3);
  for (let y = 0; y < outH; y++) {
    const s = vy.start[y];
    for (let x = 0; x < outW; x++) {
      let r = 0,
        g = 0,
        b = 0;
      for (let k = 0; k < vy.count[y]; k++) {
        const wgt = vy.weights[y * vy.maxTaps + k];
        const o = ((s + k) * outW + x) * 3;
        r += wgt * tmp[o];
        g += wgt * tmp[o + 1];
        b += wgt * tmp[o + 2];
      }
      const o = (y * outW + x) * 3;
      out[o] = Math.min(255, Math.max(0, r));
      out[o + 1] = Math.min(255, Math.max(0, g));
      out[o + 2] = Math.min(255, Math.max(0, b));
    }
  }
  return { width: outW, height: outH, data: out };
}

/**
 * torchvision `CenterCrop(size)`: top = round((h - size) / 2), left = round((w - size) / 2) with
 * Python rounding. An image smaller than the crop is zero-padded symmetrically first (as torchvision does).
 */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  const { width: w, height: h, data } = img;
  if (w === size && h === size) return img;
  const out = new Float32Array(size * size * 3);
  const top = h >= size ? roundHalfEven((h - size) / 2) : -Math.floor((size - h) / 2);
  const left = w >= size ? roundHalfEven((w - size) / 2) : -Math.floor((size - w) / 2);
  for (let y = 0; y < size; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < size; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= w) continue;
      const si = (sy * w + sx) * 3;
      const di = (y * size + x) * 3;
      out[di] = data[si];
      out[di + 1] = data[si + 1];
      out[di + 2] = data[si + 2];
    }
  }
  return { width: size, height: size, data: out };
}

/** Write an RGB image (bytes or [0,255] floats) as [0,1] floats. */
export function writeRgb(img: RgbImage, out: Float32Array, offset: number): void {
  const d = img.data;
  const n = img.width * img.height * 3;
  for (let i = 0; i < n; i++) out[offset + i] = d[i] / 255;
}
