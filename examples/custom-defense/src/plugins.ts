/**
 * The package's registration list: every plugin file of this package, and register() adding them all.
 * A new plugin is a new `src/<kind>/<id>.ts` default-exporting its definition, listed here.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import noiseBlur from './defense/noise-blur';

export const PLUGINS: readonly PluginDefinition[] = [noiseBlur];

export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
