/** @dbp-bench/cli */
export { main, buildProgram } from './main';
export { builtinRegistry, CliContext } from './context';
export { formatTable } from './commands/plugins';
export { runCliCaptured, writeSyntheticRunConfig, type CliRun } from './testing';
