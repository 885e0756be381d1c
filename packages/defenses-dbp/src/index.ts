/**
 * @dbp-bench/defenses-dbp — diffusion-based purification: the DDPM / DDIM / VP-SDE schedulers and the
 * `dp-ddpm`, `dp-ddim`, `diffpure` and `identity` defense plugins.
 */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';
import { DEFENSE_PLUGINS } from './plugins';

export * from './schedulers/schedule';
export * from './schedulers/discrete-scheduler';
export * from './schedulers/ddpm-scheduler';
export * from './schedulers/ddim-scheduler';
export * from './schedulers/vp-sde';
export * from './defenses/purifier';
export * from './defenses/identity';
export * from './defenses/dp-ddpm';
export * from './defenses/dp-ddim';
export * from './defenses/diffpure';
export * from './plugins';
export * from './grid';

/** Register this package's plugins (defenses identity, dp-ddpm, dp-ddim, diffpure). */
export function register(registry: PluginRegistry): void {
  for (const p of DEFENSE_PLUGINS) registry.add(p);
}

export const plugin: PluginModule = { name: '@dbp-bench/defenses-dbp', register };
