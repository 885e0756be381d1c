/** `Mean` over consecutive axes with at least two kept elements after them: one XNNPACK average pooling (reduce_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { meanOrSum } from './reduce_utils';
import type { KernelArgs } from './types';

export const meanConfig: tf.KernelConfig = {
  kernelName: tf.Mean,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => meanOrSum('Mean', args)) as unknown as tf.KernelFunc,
};
