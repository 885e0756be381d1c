/**
 * Deterministic White-Box (DW-box) evaluation (ALGORITHMS.md §7): the same PGD as `pgd`, run on a
 * target whose noise policy keys some streams. The keyed streams are known to the attacker and reused
 * by the final evaluation; the others stay fresh.
 *
 * | policy | keyed streams                  | setting  |
 * |--------|--------------------------------|----------|
 * | fwd    | forward                        | DW_Fwd   |
 * | rev    | reverse, path, corrector       | DW_Rev   |
 * | both   | all                            | DW_Both  |
 *
 * Defaults: policy `both`, EoT 1 (the ADDT lock files), 20 steps, 8/255 with step 2/255.
 * The attack needs a target created with the same policy (`createTarget(c, d, { policy, seed })`,
 * or `targetForAttack`) and that same target must be used for the final evaluation.
 *
 * @example
 * const dw = new DwBoxAttack({ policy: 'fwd' });
 * const target = createTarget(classifier, defense, { policy: dw.policy, seed: 0 });
 * const xAdv = await dw.perturb(target, x, y, { logger, sampleIndices, seed: 0 });
 * const robust = summarizeEvaluation(evaluateRandomized(target, xAdv, y, sampleIndices, 1));
 * // dw.notes: e.g. "defense 'dp-ddim' draws only from 'forward' ...: DW_Fwd equals DW_Both"
 */
import {
  DW_POLICIES,
  IncompatiblePluginError,
  POLICY_NAMES,
  PolicyTarget,
  budgetRules,
  definePlugin,
  policyEquivalence,
  type AttackContext,
  type AttackTarget,
  type DwPolicy,
  type JsonSchema,
  type NoisePolicy,
  type OptionsOf,
  type PolicyEquivalence,
} from '@dbp-bench/framework';
import { PgdAttack, pgdProperties, type PgdOptionsInput } from './pgd';

const dwBox = definePlugin({
  kind: 'attack',
  id: 'dw-box',
  description: 'DW-box: PGD on a target whose keyed noise (fwd | rev | both) is shared with the final evaluation; EoT 1 by default',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      policy: { enum: [...DW_POLICIES], default: 'both', description: 'keyed streams: fwd = DW_Fwd, rev = DW_Rev, both = DW_Both' },
      ...pgdProperties(1),
    },
    allOf: budgetRules('linf'),
  },
  create: (options): DwBoxAttack => new DwBoxAttack(options),
});
export default dwBox;

/** The options of DW-box: PGD's (EoT 1 by default) and the keyed-noise `policy`. */
export type DwBoxOptions = OptionsOf<typeof dwBox.schema>;
/** The JSON Schema of the dw-box plugin's options. */
export const DW_BOX_SCHEMA: JsonSchema = dwBox.schema;

export class DwBoxAttack extends PgdAttack {
  /** Notes recorded by the last perturb() call (e.g. that DW_Fwd equals DW_Both on this defense). */
  readonly notes: string[] = [];
  /** What the policy amounted to on the last defense attacked. */
  lastEquivalence?: PolicyEquivalence;

  /** `options`: any subset of the plugin's options (validated by its schema, defaults filled). */
  constructor(options: PgdOptionsInput & { policy?: DwPolicy } = {}) {
    super(options, dwBox);
  }

  override get policy(): NoisePolicy {
    return (this.options as DwBoxOptions).policy;
  }

  protected override prepareTarget(target: AttackTarget, ctx: AttackContext): AttackTarget {
    const policy = this.policy;
    if (!(target instanceof PolicyTarget) || target.policy !== policy) {
      const got = target instanceof PolicyTarget ? `policy '${target.policy}'` : 'a target without a noise policy';
      throw new IncompatiblePluginError(
        `attack 'dw-box' (${POLICY_NAMES[policy]}) needs a target created with policy '${policy}' ` +
          `(createTarget(classifier, defense, { policy: '${policy}', seed }) or targetForAttack), so that the final evaluation ` +
          `reuses the keyed noise; got ${got} on defense '${target.defense.id}'`,
      );
    }
    const eq = policyEquivalence(policy, target.defense);
    this.lastEquivalence = eq;
    this.notes.length = 0;
    if (eq.note) {
      this.notes.push(eq.note);
      ctx.logger.info(`dw-box: ${eq.note}`);
    }
    return target;
  }
}
