/**
 * @dbp-bench/trainers-addt — DDPM training and ADDT fine-tuning (CGPO + RBGM, ALGORITHMS.md §8).
 */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';
import { diffusionTrainerPlugin } from './diffusion-trainers';

export * from './rbgm';
export * from './cgpo';
export * from './diffusion-trainers';

/** Register this package's plugins: trainers `ddpm` and `addt`. */
export function register(registry: PluginRegistry): void {
  registry.add(diffusionTrainerPlugin('ddpm'));
  registry.add(diffusionTrainerPlugin('addt'));
}

export const plugin: PluginModule = { name: '@dbp-bench/trainers-addt', register };
