/** `Maximum` of float32: an exact loop that propagates NaN, with broadcasting (elementwise_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { minMax } from './elementwise_utils';
import type { KernelArgs } from './types';

export const maximumConfig: tf.KernelConfig = {
  kernelName: tf.Maximum,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => minMax('Maximum', args)) as unknown as tf.KernelFunc,
};
