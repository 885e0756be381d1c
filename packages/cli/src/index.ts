/** @dbp-bench/cli */
export { main, buildProgram } from './main';
export { builtinRegistry, CliContext } from './context';
export { formatTable } from './commands/plugins';
export { runBenchmark, type RunOptions, type RunOutcome } from './runner';
export { runCliCaptured, writeSyntheticRunConfig, type CliRun } from './testing';
