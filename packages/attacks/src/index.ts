/**
 * @dbp-bench/attacks — PGD with the EoT gradient estimator (exact or BPDA gradients through the
 * framework's attack target), DW-box, APGD with EoT, the evaluation protocol for randomized defenses,
 * and the stochasticity analyses (ALGORITHMS.md §6, §7, §10). Noise policies, the attack target, the
 * threat geometry and the losses are the framework's. The conformance suite for attacks is in
 * `@dbp-bench/attacks/dist/src/testing`.
 */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';
import { apgdPlugin } from './apgd';
import { dwBoxPlugin } from './dw-box';
import { pgdPlugin } from './pgd';

export * from './estimator';
export * from './rows';
export * from './evaluate';
export * from './types';
export * from './pgd';
export * from './dw-box';
export * from './apgd';
export * from './run';
export * from './analysis';

/** Register this package's plugins: `pgd`, `dw-box`, `apgd`. */
export function register(registry: PluginRegistry): void {
  registry.add(pgdPlugin);
  registry.add(dwBoxPlugin);
  registry.add(apgdPlugin);
}

export const plugin: PluginModule = { name: '@dbp-bench/attacks', register };
