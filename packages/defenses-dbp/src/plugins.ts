/**
 * The defense plugins of this package, one file each (`src/defense/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import identity from './defense/identity';
import dpDdpm from './defense/dp-ddpm';
import dpDdim from './defense/dp-ddim';
import diffpure from './defense/diffpure';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [identity, dpDdpm, dpDdim, diffpure];

/** Register this package's plugins (defenses identity, dp-ddpm, dp-ddim, diffpure). */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
