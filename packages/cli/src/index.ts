/** @dbp-bench/cli */
export { main, buildProgram } from './main';
export { builtinRegistry, CliContext } from './context';
export { formatTable } from './commands/plugins';
export { runCliCaptured, writeSyntheticRunConfig, type CliRun } from './testing';
export {
  initPlugin,
  relinkPlugin,
  linkInstalledPackages,
  resolveInstalledPackage,
  PLUGIN_TSCONFIG,
  INIT_PLUGIN_KINDS,
  type InitPluginOptions,
  type InitPluginResult,
} from './commands/init-plugin';
export { syntheticRunConfig, writeSyntheticClassifier, type SyntheticRunOptions } from './synthetic';
