/**
 * Entry script of every pthread of the threaded-SIMD wasm backend under Node `worker_threads`.
 *
 * `@tensorflow/tfjs-backend-wasm` ships the emscripten pthread worker only as a string
 * (`wasm-out/tfjs-backend-wasm-threaded-simd.worker.js` exports `wasmWorkerContents`) and, in a
 * browser, starts it from a Blob URL, which `worker_threads` cannot load. This file is a real script
 * that runs that string with the CommonJS `require` and `__filename` it expects. The string was
 * taken from a template literal, so the `\n` escapes inside its string literals became real newlines;
 * they are turned back into escapes exactly as the backend does before it makes its Blob.
 *
 * Depends on the internals of @tensorflow/tfjs-backend-wasm 4.22.0 (see ./threads.ts).
 */
import * as path from 'path';

const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the worker script ships as a CommonJS file of the wasm package
const workerModule = require(path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
  wasmWorkerContents?: unknown;
};
if (typeof workerModule.wasmWorkerContents !== 'string') {
  throw new Error(
    `${pkgDir}/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js does not export wasmWorkerContents (expected @tensorflow/tfjs-backend-wasm 4.22.0)`,
  );
}
// eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call -- the emscripten worker source is run as the package runs it
new Function('require', '__filename', workerModule.wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
