/**
 * @dbp-bench/backend-wasm — setting up the TensorFlow.js wasm backend: every core (the threaded-SIMD
 * binary under `worker_threads`, ./threads.ts) and the gradient kernels it lacks or runs slowly (one
 * file per kernel under ./kernels, listed in ./register_all_kernels.ts). See docs/PERFORMANCE.md and
 * packages/backend-wasm/README.md. @dbp-bench/framework's backend selection (`initBackend`) calls
 * `prepareWasmBackend`.
 */
import * as os from 'os';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError, type Logger } from '@dbp-bench/core';
import { registerWasmKernels } from './register_all_kernels';
import { MAX_WASM_THREADS, activateThreadedBackend, checkPinnedVersions, createThreadedModule, wasmBackendInitialised } from './threads';

export {
  WASM_KERNEL_CONFIGS,
  WASM_KERNEL_NAMES,
  FLIP_CACHE_MAX_BYTES,
  clearWasmKernelCaches,
  wasmKernelCacheSize,
  installedWasmKernels,
  registerWasmKernels,
  unregisterWasmKernels,
} from './register_all_kernels';
export { MAX_WASM_THREADS, PINNED_TFJS_VERSION, checkPinnedVersions } from './threads';

export interface WasmSetup {
  /**
   * Threads to compute with (default: every core, `os.cpus().length`; the backend caps it at 8).
   * 1 loads the single-threaded SIMD binary. The environment variable `DBP_WASM_THREADS` overrides it.
   */
  threads?: number;
  /** Register the replacement gradient kernels (default true). */
  kernels?: boolean;
  /** Where the fallback to one thread is reported (warn; console.warn when absent). */
  logger?: Logger;
}

export interface WasmSetupResult {
  /** Threads XNNPACK computes with (`tf.wasm.getThreadsCount()`). */
  threads: number;
  /** The thread count asked for (option, DBP_WASM_THREADS or the core count). */
  requestedThreads: number;
  /** The kernels registered by this package (see ./register_all_kernels.ts). */
  kernels: string[];
  /** Why `threads` differs from `requestedThreads`, when it does. */
  note?: string;
}

/** Parse the requested thread count: DBP_WASM_THREADS, else the option, else the core count. */
export function requestedWasmThreads(opts: WasmSetup = {}): number {
  const env = process.env.DBP_WASM_THREADS;
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1)
      throw new BackendError(`DBP_WASM_THREADS must be a positive integer (threads of the wasm backend), got '${env}'`);
    return n;
  }
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1)
      throw new BackendError(`wasm option 'threads' must be a positive integer, got ${opts.threads}`);
    return opts.threads;
  }
  return Math.max(1, os.cpus().length);
}

interface WasmPackage {
  getThreadsCount(): number;
}

async function startSingleThreaded(): Promise<void> {
  if (!(await tf.setBackend('wasm')))
    throw new BackendError('tf.setBackend("wasm") returned false (the single-threaded wasm backend did not initialise)');
  await tf.ready();
}

/**
 * Make wasm the active backend with `threads` threads (default every core) and register the
 * replacement gradient kernels. Depends on @tensorflow/tfjs-backend-wasm 4.22.0 internals and throws
 * BackendError for any other version. When the threaded binary cannot be started, falls back to one
 * thread and says why (logger.warn and `note`). If the wasm backend was initialised before, its
 * thread count cannot change: the call only (re)activates it and registers the kernels.
 */
export async function prepareWasmBackend(opts: WasmSetup = {}): Promise<WasmSetupResult> {
  checkPinnedVersions();
  const requested = requestedWasmThreads(opts);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when the wasm backend is prepared
  const pkg = require('@tensorflow/tfjs-backend-wasm') as WasmPackage;
  let note: string | undefined;
  if (wasmBackendInitialised()) {
    if (tf.getBackend() !== 'wasm' && !(await tf.setBackend('wasm'))) throw new BackendError('tf.setBackend("wasm") returned false');
    const threads = pkg.getThreadsCount();
    if (threads !== Math.min(requested, MAX_WASM_THREADS))
      note = `the wasm backend was already initialised with ${threads} thread(s); ${requested} requested`;
  } else if (requested > 1) {
    const threads = Math.min(requested, MAX_WASM_THREADS);
    if (threads < requested) note = `the wasm backend supports at most ${MAX_WASM_THREADS} threads; ${requested} requested`;
    try {
      const module = await createThreadedModule(threads);
      await activateThreadedBackend(module, threads);
    } catch (e) {
      note = `the multi-threaded wasm backend could not be started (${(e as Error).message}); using 1 thread`;
      await startSingleThreaded();
    }
  } else {
    await startSingleThreaded();
  }
  if (note) {
    if (opts.logger) opts.logger.warn(`wasm: ${note}`);
    else console.warn(`dbp-bench wasm: ${note}`);
  }
  const kernels = opts.kernels === false ? [] : registerWasmKernels();
  const result: WasmSetupResult = { threads: pkg.getThreadsCount(), requestedThreads: requested, kernels };
  if (note) result.note = note;
  return result;
}
