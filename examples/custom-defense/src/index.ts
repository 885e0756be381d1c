/**
 * An external dbp-bench plugin package. dbp-bench loads it by path or package name
 * (`dbp-bench --plugin ./examples/custom-defense ...`, or a run config's `plugins` list) and calls
 * `plugin.register(registry)`.
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export { PLUGINS, register } from './plugins';
export { NoiseBlurDefense, type NoiseBlurOptions } from './defense/noise-blur';
export { default as noiseBlur } from './defense/noise-blur';

export const plugin: PluginModule = { name: 'dbp-bench-example-custom-defense', register };
