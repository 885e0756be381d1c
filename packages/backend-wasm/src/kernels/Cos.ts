/** `Cos` of float32: `Math.cos` of each element, rounded to float32, as the cpu backend (elementwise_utils.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { elementwise } from './elementwise_utils';
import type { KernelArgs } from './types';

export const cosConfig: tf.KernelConfig = {
  kernelName: tf.Cos,
  backendName: 'wasm',
  kernelFunc: ((args: KernelArgs) => elementwise('Cos', Math.cos, args)) as unknown as tf.KernelFunc,
};
