/**
 * @dbp-bench/defenses-dbp — diffusion-based purification: the DDPM / DDIM / VP-SDE schedulers and the
 * `dp-ddpm`, `dp-ddim`, `diffpure` and `identity` defense plugins.
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export * from './schedulers/schedule';
export * from './schedulers/discrete-scheduler';
export * from './schedulers/ddpm-scheduler';
export * from './schedulers/ddim-scheduler';
export * from './schedulers/vp-sde';
export * from './schedulers/lee-kim';
export * from './purifier';
export * from './defense/identity';
export * from './defense/dp-ddpm';
export * from './defense/dp-ddim';
export * from './defense/diffpure';
export {
  weightsOption,
  strengthOption,
  gradientOption,
  checkpointOption,
  precisionOption,
  surrogateOption,
  createWithWeights,
} from './diffusion-plugin';
export { PLUGINS, register } from './plugins';
export * from './grid';

export const plugin: PluginModule = { name: '@dbp-bench/defenses-dbp', register };
