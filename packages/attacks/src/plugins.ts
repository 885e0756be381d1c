/**
 * The attack plugins of this package, one file each (`src/attack/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import pgd from './attack/pgd';
import dwBox from './attack/dw-box';
import apgd from './attack/apgd';
import diffhammer from './attack/diffhammer';
import autoattackRand from './attack/autoattack-rand';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [pgd, dwBox, apgd, diffhammer, autoattackRand];

/** Register this package's plugins: attacks `pgd`, `dw-box`, `apgd`, `diffhammer`, `autoattack-rand`. */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
