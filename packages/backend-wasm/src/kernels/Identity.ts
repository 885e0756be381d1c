/** `Identity`: a zero-copy, reference-counted alias (as the cpu backend does) instead of a copy of every tensor that `tf.grad` saves. */
import * as tf from '@tensorflow/tfjs-core';
import { runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

export function identity(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  if (x.dtype === 'string') return runStock('Identity', args);
  wb(args.backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: tf.Identity,
  backendName: 'wasm',
  kernelFunc: identity as unknown as tf.KernelFunc,
};
