/**
 * The trainer plugins of this package, one file each (`src/trainer/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import ddpm from './trainer/ddpm';
import addt from './trainer/addt';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [ddpm, addt];

/** Register this package's plugins: trainers `ddpm` and `addt`. */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
