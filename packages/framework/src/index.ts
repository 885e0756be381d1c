/**
 * @dbp-bench/framework — the hub every plugin package builds on: contracts, the plugin registry,
 * schema validation, seeded and keyed noise, backend selection, gradient checkpointing, logging.
 */
import 'reflect-metadata';
// tfjs-core's CommonJS bundle registers no gradient functions and no chained ops; the @tensorflow/tfjs
// bundle registers both against the same tfjs-core. Every package gets them by importing the framework.
import '@tensorflow/tfjs';
export * from './contracts';
export * from './errors';
export * from './logger';
export * from './rng';
export * from './json';
export * from './atomic';
export * from './lock';
export * from './files';
export * from './schema';
export * from './registry';
export * from './backend';
export * from './checkpoint';
export * from './diagnostics';
export { prepareWasmBackend, type WasmSetup, type WasmSetupResult } from './wasm';

/** The framework version (written into leaderboard provenance). */
export const FRAMEWORK_VERSION: string = (require('../../package.json') as { version: string }).version;
