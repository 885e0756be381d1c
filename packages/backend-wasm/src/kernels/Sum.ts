/** `Sum` over consecutive axes with at least two kept elements after them: one XNNPACK average pooling (reduce_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { meanOrSum } from './reduce_utils';
import type { KernelArgs } from './types';

export const sumConfig: tf.KernelConfig = {
  kernelName: tf.Sum,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => meanOrSum('Sum', args)) as unknown as tf.KernelFunc,
};
