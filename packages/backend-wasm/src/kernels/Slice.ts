/** `Slice` of float32 and int32: `copyWithin` of whole contiguous runs (slice_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { fourBytes, runStock, wb } from './kernel_utils';
import { sliceBox } from './slice_utils';
import type { KernelArgs, TI } from './types';

function slice(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  if (!fourBytes(x.dtype) || x.shape.length === 0) return runStock('Slice', args);
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  const [b, sz] = tf.slice_util.parseSliceParams(x, begin, size);
  return sliceBox(wb(args.backend), x, b, sz);
}

export const sliceConfig: tf.KernelConfig = {
  kernelName: tf.Slice,
  backendName: 'wasm',
  kernelFunc: slice as unknown as tf.KernelFunc,
};
