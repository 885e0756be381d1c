/** `UnsortedSegmentSum` (not registered by the package; the gradient of `tf.gather`): a loop over the heap. */
import * as tf from '@tensorflow/tfjs-core';
import { wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function unsortedSegmentSum(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const ids = args.inputs.segmentIds as TI;
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32')
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 (got ${x.dtype})`);
  const innerShape = x.shape.slice(ids.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const count = tf.util.sizeFromShape(ids.shape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const buf = backend.wasm.HEAPU8.buffer;
  const view = (t: TI, size: number) =>
    t.dtype === 'int32'
      ? new Int32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, size)
      : new Float32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, size);
  const o = view(out, numSegments * inner);
  const xs = view(x, count * inner);
  const seg = new Int32Array(buf, backend.dataIdMap.get(ids.dataId).memoryOffset, count);
  o.fill(0);
  for (let i = 0; i < count; i++) {
    const s = seg[i];
    if (s < 0 || s >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    const d = s * inner;
    const src = i * inner;
    for (let j = 0; j < inner; j++) o[d + j] += xs[src + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc,
};
