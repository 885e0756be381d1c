/**
 * @dbp-bench/framework — the tensor layer every plugin package builds on: everything of
 * @dbp-bench/core (contracts, errors, registry, schema, RNG, logging, files, atomic writes, locks;
 * re-exported here, so `import … from '@dbp-bench/framework'` finds them), plus what needs TF.js at
 * run time: backend selection (the wasm set-up is @dbp-bench/backend-wasm), keyed and fresh noise
 * sources, the policy target (with the BPDA estimator), the threat geometry and losses, gradient
 * checkpointing and attack diagnostics. Run configs are @dbp-bench/runner's.
 */
// tfjs-core's CommonJS bundle registers no gradient functions and no chained ops; the @tensorflow/tfjs
// bundle registers both against the same tfjs-core. Every package that computes with tensors gets them
// by importing the framework (@dbp-bench/core does not: it loads no tensor library).
import '@tensorflow/tfjs';
export * from '@dbp-bench/core';
export * from './noise-sources';
export * from './backend';
export * from './checkpoint';
export * from './diagnostics';
export * from './policy-target';
export * from './geometry';
export * from './losses';
export { prepareWasmBackend, type WasmSetup, type WasmSetupResult } from '@dbp-bench/backend-wasm';
export * from './vote';
