/**
 * Shared by the convolution gradients: the attributes of a forward convolution with explicit padding,
 * the cache of spatially flipped filters (one per weight buffer), zero insertion for strides > 1, and
 * the tap loop of the depthwise gradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import { free, heapF32, offsetF32, run, reshaped, zeroedOutput } from './kernel_utils';
import type { Shape, TI, WasmBackend } from './types';

export function convAttrs(pad: [number, number, number, number], dilations: [number, number] = [1, 1]): Record<string, unknown> {
  const [t, b, l, r] = pad;
  return {
    strides: [1, 1],
    pad: [
      [0, 0],
      [t, b],
      [l, r],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  };
}

interface FlipEntry {
  backend: WasmBackend;
  src: tf.DataId;
  shape: string;
  out: TI;
  bytes: number;
}

/** Flipped filters keyed by the weight buffer they were made from (insertion order = LRU order). */
const flipCache = new Map<tf.DataId, FlipEntry>();

let flipCacheBytes = 0;

/** Upper bound on the memory of cached flipped filters (the least recently used are dropped first). */
export const FLIP_CACHE_MAX_BYTES = 512 * 1024 * 1024;

function dropFlip(key: tf.DataId, e: FlipEntry): void {
  flipCache.delete(key);
  flipCacheBytes -= e.bytes;
  if (e.backend.dataIdMap.has(e.out.dataId)) free(e.backend, e.out);
}

/** Free flipped filters whose weight buffer is gone (disposed, or moved to another backend). */
function sweepFlipCache(): void {
  for (const [key, e] of flipCache) if (!e.backend.dataIdMap.has(e.src)) dropFlip(key, e);
}

/** Free every cached flipped filter (e.g. before measuring memory). Returns how many were freed. */
export function clearWasmKernelCaches(): number {
  const n = flipCache.size;
  for (const [key, e] of flipCache) dropFlip(key, e);
  return n;
}

/** Number of flipped filters currently cached (for tests and diagnostics). */
export function wasmKernelCacheSize(): number {
  sweepFlipCache();
  return flipCache.size;
}

/** filter [kh, kw, inC, outC] -> [kh, kw, outC, inC] with both spatial axes reversed. */
export function flippedFilter(backend: WasmBackend, filter: TI): TI {
  sweepFlipCache();
  const shapeKey = filter.shape.join(',');
  const hit = flipCache.get(filter.dataId);
  if (hit && hit.backend === backend && hit.shape === shapeKey) {
    flipCache.delete(filter.dataId);
    flipCache.set(filter.dataId, hit);
    return hit.out;
  }
  if (hit) dropFlip(filter.dataId, hit);
  const [kh, kw, ci, co] = filter.shape;
  const k = kh * kw;
  // Swap channels with the package's (XNNPACK) transpose, then reverse the order of the kh*kw blocks:
  // block i*kw+j goes to (kh-1-i)*kw+(kw-1-j) = k-1-(i*kw+j). No Reverse kernel (slow on wasm).
  const t = run('Transpose', backend, { x: reshaped(filter, [k, ci, co]) }, { perm: [0, 2, 1] });
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const heap = heapF32(backend);
  const src = offsetF32(backend, t);
  const dst = offsetF32(backend, out);
  const blk = ci * co;
  for (let b = 0; b < k; b++) heap.copyWithin(dst + (k - 1 - b) * blk, src + b * blk, src + (b + 1) * blk);
  free(backend, t);
  const entry: FlipEntry = { backend, src: filter.dataId, shape: shapeKey, out, bytes: k * blk * 4 };
  flipCache.set(filter.dataId, entry);
  flipCacheBytes += entry.bytes;
  for (const [key, e] of flipCache) {
    if (flipCacheBytes <= FLIP_CACHE_MAX_BYTES || key === filter.dataId) break;
    dropFlip(key, e);
  }
  return out;
}

/** dy [n, h, w, c] -> [n, (h-1)*sh+1, (w-1)*sw+1, c] with dy at every sh-th row and sw-th column, zeros elsewhere. */
export function insertZeros(backend: WasmBackend, dy: TI, sh: number, sw: number): TI {
  const [n, h, w, c] = dy.shape;
  const lh = (h - 1) * sh + 1;
  const lw = (w - 1) * sw + 1;
  const { out, heap, start: dst } = zeroedOutput(backend, [n, lh, lw, c]);
  const src = offsetF32(backend, dy);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      let s = src + (b * h + y) * w * c;
      let d = dst + (b * lh + y * sh) * lw * c;
      for (let x = 0; x < w; x++, s += c, d += sw * c) heap.copyWithin(d, s, s + c);
    }
  }
  return out;
}

/**
 * The input gradient of a strided convolution as a stride-1 convolution of the zero-inserted output
 * gradient (size lh x lw) with the flipped filter: the paddings (top, left, bottom, right) that give
 * the input's h x w. A negative padding means this form does not apply (the caller falls back).
 */
export function transposedConvPads(info: tf.backend_util.Conv2DInfo): {
  lh: number;
  lw: number;
  pt: number;
  pl: number;
  pb: number;
  pr: number;
} {
  const lh = (info.outHeight - 1) * info.strideHeight + 1;
  const lw = (info.outWidth - 1) * info.strideWidth + 1;
  const pt = info.filterHeight - 1 - info.padInfo.top;
  const pl = info.filterWidth - 1 - info.padInfo.left;
  return { lh, lw, pt, pl, pb: info.inHeight + info.padInfo.top - lh, pr: info.inWidth + info.padInfo.left - lw };
}

export function depthwiseInfo(
  xShape: Shape,
  filterShape: Shape,
  attrs: tf.DepthwiseConv2dNativeBackpropInputAttrs | tf.DepthwiseConv2dNativeBackpropFilterAttrs,
): tf.backend_util.Conv2DInfo {
  const dilations = attrs.dilations == null ? 1 : attrs.dilations;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * The heap loop shared by both depthwise gradients: calls `f(xOff, dyOff, fOff)` with the element
 * offsets (relative to the tensors' starts, in float32 units) of every (input pixel, output pixel,
 * filter tap) triple of the convolution, for channel 0 and multiplier 0; the callee loops over the
 * channels (contiguous in NHWC) itself.
 */
export function forEachTap(info: tf.backend_util.Conv2DInfo, f: (xOff: number, dyOff: number, fOff: number) => void): void {
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    outChannels: co,
    filterHeight: kh,
    filterWidth: kw,
  } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const dyOff = ((b * oh + oy) * ow + ox) * co;
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i * dh - top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j * dw - left;
            if (ix < 0 || ix >= w) continue;
            f(((b * h + iy) * w + ix) * ci, dyOff, (i * kw + j) * co);
          }
        }
      }
    }
  }
}
