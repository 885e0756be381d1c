/**
 * `ClipByValue` of float32: an exact loop that propagates NaN (the package's XNNPACK clamp returns a
 * bound for NaN, so a NaN purification or step turned into a plausible image).
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapF32, offsetF32, runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function clipByValue(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock('ClipByValue', args);
  const { clipValueMin: lo, clipValueMax: hi } = args.attrs as unknown as tf.ClipByValueAttrs;
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const heap = heapF32(backend);
  const xi = offsetF32(backend, x);
  const oi = offsetF32(backend, out);
  // The cpu backend's expression: NaN fails both comparisons and passes through.
  for (let i = 0; i < n; i++) {
    const v = heap[xi + i];
    heap[oi + i] = v > hi ? hi : v < lo ? lo : v;
  }
  return out;
}

export const clipByValueConfig: tf.KernelConfig = {
  kernelName: tf.ClipByValue,
  backendName: 'wasm',
  kernelFunc: clipByValue as unknown as tf.KernelFunc,
};
