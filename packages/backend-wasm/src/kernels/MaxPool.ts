/** `MaxPool` of an input that holds a NaN: pooled as the cpu backend does it (NaN never wins); without NaN, the package's kernel. */
import * as tf from '@tensorflow/tfjs-core';
import { heapF32, offsetF32, runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

/**
 * MaxPool: the package's (XNNPACK) kernel gives -Infinity for a window that holds a NaN (its maximum
 * propagates the NaN, then its output clamp turns it into -Infinity). When the input holds a NaN, the
 * pooling is done here as the cpu backend does it: the maximum of the window's other values (NaN
 * never wins a comparison), -Infinity when there are none; MaxPoolGrad above routes dy the same way.
 */
function maxPool(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock('MaxPool', args);
  const size = tf.util.sizeFromShape(x.shape);
  let heap = heapF32(backend);
  let xo = offsetF32(backend, x);
  let nan = false;
  for (let i = xo, end = xo + size; i < end && !nan; i++) nan = heap[i] !== heap[i];
  if (!nan) return runStock('MaxPool', args);
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const out = backend.makeOutput(info.outShape, 'float32');
  heap = heapF32(backend);
  xo = offsetF32(backend, x);
  const oo = offsetF32(backend, out);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        const o = oo + ((b * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) heap[o + k] = -Infinity;
        for (let fy = 0; fy < fh; fy += dh) {
          const y = y0 + fy;
          if (y < 0 || y >= h) continue;
          for (let fx = 0; fx < fw; fx += dw) {
            const xx = x0 + fx;
            if (xx < 0 || xx >= w) continue;
            const base = xo + ((b * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) if (heap[base + k] > heap[o + k]) heap[o + k] = heap[base + k];
          }
        }
      }
    }
  }
  return out;
}

export const maxPoolConfig: tf.KernelConfig = {
  kernelName: tf.MaxPool,
  backendName: 'wasm',
  kernelFunc: maxPool as unknown as tf.KernelFunc,
};
