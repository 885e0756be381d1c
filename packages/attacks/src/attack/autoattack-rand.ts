/**
 * AutoAttack-rand (Croce & Hein; ALGORITHMS.md §14.5): APGD-CE, then APGD-DLR on the samples APGD-CE
 * did not fool, 100 iterations, EoT 20, one restart, momentum 0.75, rho 0.75: the `apgd` attack with
 * its AutoAttack recipe fixed. Two scorings: `selectionDraws: 20` (the project's Fixed-AutoAttack
 * rule: a sample's value is its mean correctness over 20 purifications, replaced only by a smaller one)
 * and `selectionDraws: 1` (upstream AutoAttack's single stochastic forward decides).
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  budgetRules,
  definePlugin,
  pluginOptions,
  type Attack,
  type AttackContext,
  type AttackProtocol,
  type AttackTarget,
  type JsonSchema,
  type NoisePolicy,
  type OptionsOf,
  type ThreatModel,
} from '@dbp-bench/framework';
import { ApgdAttack, BUDGET_OPTIONS } from './apgd';
import { GRADIENT_CHOICES, eotSchema } from './pgd';

/** The losses of AutoAttack `version='rand'`, run in this order (the second on the survivors of the first). */
export const AUTOATTACK_RAND_LOSSES = ['ce', 'dlr'] as const;

const autoattackRand = definePlugin({
  kind: 'attack',
  id: 'autoattack-rand',
  description: "AutoAttack 'rand': APGD-CE then APGD-DLR on the survivors, 100 iterations, EoT 20, 1 restart",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...BUDGET_OPTIONS,
      steps: { type: 'integer', minimum: 1, default: 100, description: 'iterations per APGD run (n_iter)' },
      eot: eotSchema(20),
      rho: { type: 'number', minimum: 0, maximum: 1, default: 0.75 },
      gradient: { enum: [...GRADIENT_CHOICES], default: 'target' },
      selectionDraws: {
        type: 'integer',
        minimum: 1,
        default: 20,
        description: 'purifications that judge the clean input and each run: 1 = upstream AutoAttack, 20 = Fixed AutoAttack',
      },
    },
    allOf: budgetRules('linf'),
  },
  create: (options): AutoAttackRand => new AutoAttackRand(options),
});
export default autoattackRand;

/** The options of autoattack-rand, validated, defaults filled. */
export type AutoAttackRandOptions = OptionsOf<typeof autoattackRand.schema>;
/** What the constructor takes: any subset of the options (eot too). */
export type AutoAttackRandOptionsInput = Partial<Omit<AutoAttackRandOptions, 'eot'>> & { eot?: Partial<AutoAttackRandOptions['eot']> };
/** The JSON Schema of the autoattack-rand plugin's options. */
export const AUTOATTACK_RAND_SCHEMA: JsonSchema = autoattackRand.schema;

export class AutoAttackRand implements Attack {
  readonly id = 'autoattack-rand';
  readonly options: AutoAttackRandOptions;
  /** The composed APGD: losses [ce, dlr], one restart, momentum 0.75. */
  readonly apgd: ApgdAttack;
  readonly threat: ThreatModel;

  /** `options`: any subset of the plugin's options (validated by its schema, defaults filled). */
  constructor(options: AutoAttackRandOptionsInput = {}) {
    this.options = pluginOptions(autoattackRand, options);
    const o = this.options;
    this.apgd = new ApgdAttack({
      norm: o.norm,
      eps: o.eps,
      steps: o.steps,
      losses: [...AUTOATTACK_RAND_LOSSES],
      restarts: 1,
      eot: o.eot,
      momentum: 0.75,
      rho: o.rho,
      gradient: o.gradient,
      selectionDraws: o.selectionDraws,
    });
    this.threat = this.apgd.threat;
  }

  get policy(): NoisePolicy {
    return this.apgd.policy;
  }

  /** APGD's protocol: EoT K, `steps` per run, one run per loss (restarts 1), no fixed step size. */
  protocol(): AttackProtocol {
    return this.apgd.protocol();
  }

  perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> {
    return this.apgd.perturb(target, x, y, ctx);
  }

  describe(): Record<string, unknown> {
    return {
      id: this.id,
      ...this.options,
      scoring: this.options.selectionDraws === 1 ? 'upstream' : 'fixed-autoattack',
      losses: [...AUTOATTACK_RAND_LOSSES],
      restarts: 1,
      momentum: 0.75,
      eps: this.threat.eps,
      policy: this.policy,
    };
  }
}
