/** `MaxPoolGrad`: the package's kernel is wrong for windows whose values are all negative. */
import * as tf from '@tensorflow/tfjs-core';
import { heapF32, offsetF32, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

/**
 * The package's MaxPoolGrad starts each window's maximum at `numeric_limits<float>::min()` (the
 * smallest positive float), so a window whose values are all negative sends its gradient to the wrong
 * element. This one takes the first maximum of each window in row-major order, as TensorFlow and the
 * cpu backend do; padding never wins.
 */
function maxPoolGrad(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const dy = args.inputs.dy as TI;
  const input = args.inputs.input as TI;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const dx = backend.makeOutput(input.shape, 'float32');
  const heap = heapF32(backend);
  const xo = offsetF32(backend, input);
  const dyo = offsetF32(backend, dy);
  const dxo = offsetF32(backend, dx);
  heap.fill(0, dxo, dxo + n * h * w * c);
  const best = new Float32Array(c);
  const pos = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        best.fill(-Infinity);
        pos.fill(-1);
        for (let fy = 0; fy < fh; fy += dh) {
          const y = y0 + fy;
          if (y < 0 || y >= h) continue;
          for (let fx = 0; fx < fw; fx += dw) {
            const x = x0 + fx;
            if (x < 0 || x >= w) continue;
            const base = ((b * h + y) * w + x) * c;
            for (let k = 0; k < c; k++) {
              const v = heap[xo + base + k];
              if (v > best[k] || (pos[k] < 0 && v === best[k])) {
                best[k] = v;
                pos[k] = base + k;
              }
            }
          }
        }
        const g = dyo + ((b * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) if (pos[k] >= 0) heap[dxo + pos[k]] += heap[g + k];
      }
    }
  }
  return dx;
}

export const maxPoolGradConfig: tf.KernelConfig = {
  kernelName: tf.MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as tf.KernelFunc,
};
