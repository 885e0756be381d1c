/** `SplitV` of float32 and int32: `copyWithin` of whole contiguous runs (slice_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { fourBytes, runStock, wb } from './kernel_utils';
import { sliceBox } from './slice_utils';
import type { KernelArgs, TI } from './types';

function splitV(args: KernelArgs): TI[] {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (!fourBytes(x.dtype)) return runStock('SplitV', args) as unknown as TI[];
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[ax] = s;
    const out = sliceBox(backend, x, begin, size);
    begin[ax] += s;
    return out;
  });
}

export const splitVConfig: tf.KernelConfig = {
  kernelName: tf.SplitV,
  backendName: 'wasm',
  kernelFunc: splitV as unknown as tf.KernelFunc,
};
