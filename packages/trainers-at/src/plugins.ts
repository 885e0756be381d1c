/**
 * The trainer plugins of this package, one file each (`src/trainer/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import standard from './trainer/standard';
import pgdAt from './trainer/pgd-at';
import trades from './trainer/trades';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [standard, pgdAt, trades];

/** Register this package's plugins: trainers `standard`, `pgd-at`, `trades`. */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
