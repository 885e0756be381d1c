/**
 * The attack plugins of this package, one file each (`src/attack/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import pgd from './attack/pgd';
import dwBox from './attack/dw-box';
import apgd from './attack/apgd';
import diffhammer from './attack/diffhammer';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [pgd, dwBox, apgd, diffhammer];

/** Register this package's plugins: attacks `pgd`, `dw-box`, `apgd`, `diffhammer`. */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
