/**
 * @dbp-bench/trainers-at — adversarial-training baselines (standard, PGD-AT, TRADES) and the
 * training loop every dbp-bench trainer shares (optimizers, schedules, EMA, augmentation,
 * checkpoints with exact resume, loss log and curve, train config files).
 */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';
import { classifierTrainerPlugin } from './classifier-trainers';

export * from './loop';
export * from './inner-max';
export * from './classifier-trainers';
export * from './train-config';

/** Register this package's plugins: trainers `standard`, `pgd-at`, `trades`. */
export function register(registry: PluginRegistry): void {
  registry.add(classifierTrainerPlugin('standard'));
  registry.add(classifierTrainerPlugin('pgd-at'));
  registry.add(classifierTrainerPlugin('trades'));
}

export const plugin: PluginModule = { name: '@dbp-bench/trainers-at', register };
