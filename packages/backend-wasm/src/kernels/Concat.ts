/** `Concat` of float32 and int32: `copyWithin` of whole contiguous runs into the output. */
import * as tf from '@tensorflow/tfjs-core';
import { identity } from './Identity';
import { fourBytes, heapU32, offsetF32, runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function concat(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const inputs = args.inputs as unknown as TI[];
  const dtype = inputs[0]?.dtype;
  if (!dtype || !fourBytes(dtype) || inputs.some((t) => t.dtype !== dtype)) return runStock('Concat', args);
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, inputs[0].shape)[0];
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (parts.length === 1) return identity({ inputs: { x: parts[0] }, backend: args.backend });
  const out = backend.makeOutput(outShape, dtype);
  const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
  const runs = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
  const total = runs.reduce((a, b) => a + b, 0);
  const heap = heapU32(backend);
  const srcs = parts.map((t) => offsetF32(backend, t));
  let col = offsetF32(backend, out);
  for (let i = 0; i < parts.length; i++) {
    const run = runs[i];
    for (let o = 0, s = srcs[i], d = col; o < outer; o++, s += run, d += total) heap.copyWithin(d, s, s + run);
    col += run;
  }
  return out;
}

export const concatConfig: tf.KernelConfig = {
  kernelName: tf.Concat,
  backendName: 'wasm',
  kernelFunc: concat as unknown as tf.KernelFunc,
};
