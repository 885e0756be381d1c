/**
 * @dbp-bench/trainers-at — adversarial-training baselines (standard, PGD-AT, TRADES) and the
 * training loop every dbp-bench trainer shares (optimizers, schedules, EMA, augmentation,
 * checkpoints with exact resume, loss log and curve, train config files).
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export * from './loop';
export * from './inner-max';
export * from './classifier-trainers';
export * from './train-config';

export { PLUGINS, register } from './plugins';

export const plugin: PluginModule = { name: '@dbp-bench/trainers-at', register };
