/** `Sin` of float32: `Math.sin` of each element, rounded to float32, as the cpu backend (elementwise_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise } from './elementwise_utils';
import type { KernelArgs } from './types';

export const sinConfig: tf.KernelConfig = {
  kernelName: tf.Sin,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => elementwise('Sin', Math.sin, args)) as unknown as tf.KernelFunc,
};
