/**
 * The multi-threaded wasm backend under Node.
 *
 * `@tensorflow/tfjs-backend-wasm` reports "no multithread support" whenever it runs in Node (tfjs
 * issue 3830) and loads the single-threaded SIMD binary. The threaded-SIMD binary works in Node once
 * (1) its emscripten factory is started with a pthread worker script that `worker_threads` can load
 * (./pthread-worker.ts instead of a Blob URL) and with the factory file itself as the script each
 * pthread imports, and (2) the XNNPACK pool is not capped: the C++ side computes
 * `num_cores = emscripten_num_logical_cores() / 2` once at start-up and caps the pool at it (and at 8),
 * so the factory's `emscripten_num_logical_cores` import is answered with twice the requested count.
 * The resulting module is wrapped in the package's own `BackendWasm` class, so every stock kernel works.
 *
 * All of this depends on the internals of @tensorflow/tfjs-backend-wasm 4.22.0; `checkPinnedVersions`
 * refuses any other version with a clear message.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs-core';
import { BackendError } from '@dbp-bench/core';

/** The only @tensorflow/tfjs-backend-wasm (and tfjs-core) version whose internals this code supports. */
export const PINNED_TFJS_VERSION = '4.22.0';
/** The C++ side caps the XNNPACK pool at 8 threads (its pre-created pthread pool). */
export const MAX_WASM_THREADS = 8;

const WASM_PKG = '@tensorflow/tfjs-backend-wasm';

/** The installed @tensorflow/tfjs-backend-wasm package folder. */
export function wasmPackageDir(): string {
  return path.dirname(require.resolve(`${WASM_PKG}/package.json`));
}

/** Throws BackendError unless tfjs-core and tfjs-backend-wasm are exactly the pinned version. */
export function checkPinnedVersions(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a package.json read by path
  const wasmVersion = (require(`${WASM_PKG}/package.json`) as { version: string }).version;
  const coreVersion: string = tf.version_core;
  const bad: string[] = [];
  if (wasmVersion !== PINNED_TFJS_VERSION) bad.push(`${WASM_PKG} ${wasmVersion}`);
  if (coreVersion !== PINNED_TFJS_VERSION) bad.push(`@tensorflow/tfjs-core ${coreVersion}`);
  if (bad.length) {
    throw new BackendError(
      `the wasm set-up (threads, replacement gradient kernels) depends on the internals of TensorFlow.js ${PINNED_TFJS_VERSION}, ` +
        `but ${bad.join(' and ')} is installed; install exactly ${PINNED_TFJS_VERSION} (see packages/backend-wasm/README.md)`,
    );
  }
}

/** The parts of an emscripten module of the wasm backend that are used here. */
export interface WasmModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
  PThread?: { runningWorkers: WorkerLike[]; unusedWorkers: WorkerLike[] };
  tfjs?: Record<string, (...a: unknown[]) => unknown>;
}
interface WorkerLike {
  unref(): void;
  terminate(): unknown;
}
type Factory = (config: Record<string, unknown>) => Promise<WasmModule>;

interface EngineInternals {
  registry: Record<string, unknown>;
  registryFactory: Record<string, { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number } | undefined>;
}
function engineInternals(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

/** True once a wasm backend instance exists (its thread count can no longer change). */
export function wasmBackendInitialised(): boolean {
  return engineInternals().registry.wasm !== undefined;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    timer.unref();
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String((e as { message?: string })?.message ?? e)));
      },
    );
  });
}

/**
 * Start the threaded-SIMD emscripten module with an XNNPACK pool of `threads` threads (the pool is
 * created when the backend is constructed). Rejects when a file is missing or the module fails to load.
 */
export async function createThreadedModule(threads: number, timeoutMs = 60_000): Promise<WasmModule> {
  const dir = wasmPackageDir();
  const factoryPath = path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const wasmFile = path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const workerPath = path.join(__dirname, 'pthread-worker.js');
  for (const f of [factoryPath, wasmFile, workerPath]) {
    if (!fs.existsSync(f)) throw new Error(`missing ${f}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the emscripten factory is a CommonJS file chosen at run time
  const factory = require(factoryPath) as Factory;
  if (typeof factory !== 'function') throw new Error(`${factoryPath} does not export the emscripten module factory`);

  let fail: (e: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const config: Record<string, unknown> = {
    // The script every pthread evaluates to define the module factory in its own thread.
    mainScriptUrlOrBlob: factoryPath,
    locateFile: (p: string, prefix: string) => (p.endsWith('.worker.js') ? workerPath : p.endsWith('.wasm') ? wasmFile : prefix + p),
    instantiateWasm: (
      info: { env: Record<string, unknown> },
      receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
    ): Record<string, never> => {
      if (typeof info.env.emscripten_num_logical_cores !== 'function') {
        throw new Error('the threaded wasm binary has no emscripten_num_logical_cores import');
      }
      // num_cores = this / 2 caps the XNNPACK pool (computed once by a static initialiser).
      info.env.emscripten_num_logical_cores = () => 2 * threads;
      const binary = fs.readFileSync(wasmFile);
      WebAssembly.instantiate(binary, info as unknown as WebAssembly.Imports).then(
        (r) => receive(r.instance, r.module),
        (e: unknown) => fail(new Error(`instantiating ${wasmFile} failed: ${(e as Error).message}`)),
      );
      return {};
    },
  };
  // The emscripten runtime adds process-wide 'uncaughtException' / 'unhandledRejection' listeners
  // that rethrow; they only change Node's defaults, so remove the ones this call adds.
  const before = { u: process.listeners('uncaughtException'), r: process.listeners('unhandledRejection') };
  const pending = factory(config);
  for (const l of process.listeners('uncaughtException')) if (!before.u.includes(l)) process.removeListener('uncaughtException', l);
  for (const l of process.listeners('unhandledRejection')) if (!before.r.includes(l)) process.removeListener('unhandledRejection', l);

  const module = await withTimeout(Promise.race([pending, failure]), timeoutMs, 'loading the threaded wasm module');
  if (!module.PThread) throw new Error('the threaded wasm module has no PThread runtime');
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  return module;
}

interface WasmPackage {
  BackendWasm: new (module: WasmModule) => tf.KernelBackend;
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/**
 * Replace the registered 'wasm' backend factory by one that wraps `module`, make it the active
 * backend and return the thread count XNNPACK reports. On failure the stock factory is restored.
 */
export async function activateThreadedBackend(module: WasmModule, threads: number): Promise<number> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when threads are activated
  const pkg = require(WASM_PKG) as WasmPackage;
  const engine = engineInternals();
  const stock = engine.registryFactory.wasm;
  if (engine.registry.wasm !== undefined) throw new Error('the wasm backend is already initialised');
  if (stock) tf.removeBackend('wasm');
  pkg.setThreadsCount(threads);
  tf.registerBackend('wasm', () => new pkg.BackendWasm(module), stock?.priority ?? 2);
  let ok = false;
  let cause: unknown;
  try {
    ok = await tf.setBackend('wasm');
  } catch (e) {
    cause = e;
  }
  if (!ok) {
    tf.removeBackend('wasm');
    if (stock) tf.registerBackend('wasm', stock.factory, stock.priority);
    throw new Error(`the threaded wasm backend did not initialise${cause ? `: ${(cause as Error).message}` : ''}`);
  }
  const pthread = module.PThread!;
  // The pool threads run for the life of the process: do not let them keep Node alive.
  for (const w of pthread.runningWorkers) w.unref();
  // The runtime pre-creates 8 pthread workers; those XNNPACK did not take stay idle: free them.
  for (const w of pthread.unusedWorkers.splice(0)) void w.terminate();
  return pkg.getThreadsCount();
}
