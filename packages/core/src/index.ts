/**
 * @dbp-bench/core — what every dbp-bench package shares and that needs no tensor library at run time:
 * the contracts (types only), typed errors, JSON and file helpers with their limits, schema validation,
 * the plugin registry, the counter-based random generator, logging, atomic writes and locks.
 *
 * Importing it loads no `@tensorflow/*` module (the contracts import tfjs-core types only): the
 * leaderboard builds on it alone. The tensor layer is @dbp-bench/framework,
 * which re-exports all of this.
 */
export * from './contracts';
export * from './errors';
export * from './logger';
export * from './rng';
export * from './noise-policy';
export * from './json';
export * from './atomic';
export * from './lock';
export * from './files';
export * from './ids';
export * from './schema';
export * from './registry';
export * from './plugin';
export * from './plugin-doc';
export * from './testing';

/**
 * The version of the dbp-bench framework (written into leaderboard provenance). @dbp-bench/core and
 * @dbp-bench/framework are released together under one version; it is read from this package.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- outside rootDir, so not an import
export const FRAMEWORK_VERSION: string = (require('../../package.json') as { version: string }).version;
