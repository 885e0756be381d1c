/**
 * @dbp-bench/trainers-addt — DDPM training and ADDT fine-tuning (CGPO + RBGM, ALGORITHMS.md §8).
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export * from './rbgm';
export * from './cgpo';
export * from './diffusion-trainers';

export { PLUGINS, register } from './plugins';

export const plugin: PluginModule = { name: '@dbp-bench/trainers-addt', register };
