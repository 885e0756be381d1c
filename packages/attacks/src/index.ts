/**
 * @dbp-bench/attacks — PGD with the EoT gradient estimator (exact or BPDA gradients through the
 * framework's attack target), DW-box, APGD with EoT, the evaluation protocol for randomized defenses,
 * and the stochasticity analyses (ALGORITHMS.md §6, §7, §10). Noise policies, the attack target, the
 * threat geometry and the losses are the framework's. The conformance suite for attacks is in
 * `@dbp-bench/attacks/dist/src/testing`.
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export * from './estimator';
export * from './rows';
export * from './evaluate';
export * from './types';
export * from './attack/pgd';
export * from './attack/dw-box';
export * from './attack/apgd';
export * from './attack/diffhammer';
export * from './attack/autoattack-rand';
export * from './replay-noise';
export { PLUGINS, register } from './plugins';
export * from './run';
export * from './analysis';

export const plugin: PluginModule = { name: '@dbp-bench/attacks', register };
