/** @dbp-bench/leaderboard: entry schema, RobustBench import, static site generator. */
export * from './entry';
export * from './robustbench';
export * from './site';
export { esc, safeUrl } from './html';
