/**
 * PGD (Madry et al. 2018) with a gradient estimator (EoT replicas in the batch dimension, exact or
 * BPDA gradients), l_inf and l_2, as in the ADDT evaluation code (ALGORITHMS.md §6.1, §6.2).
 *
 * Defaults are the ADDT protocol: 20 steps, no random start, EoT 10, cross-entropy; l_inf ε = 8/255
 * with step 2/255, l_2 ε = 0.5 with step 0.1 (pixel units, [0, 1] images).
 *
 * @example
 * const attack = new PgdAttack({ norm: 'linf', eps: 8 / 255, steps: 20, eot: { samples: 10 } });
 * const target = createTarget(classifier, defense, { policy: 'fresh', seed: 0 });
 * const xAdv = await attack.perturb(target, x, y, { logger, sampleIndices, seed: 0 });
 * const records = evaluateRandomized(target, xAdv, y, sampleIndices, 1);
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  GRADIENT_MODES,
  LOSS_NAMES,
  NORMS,
  PolicyTarget,
  budgetExceedsInput,
  budgetRules,
  pgdStep,
  randomStart,
  definePlugin,
  pluginOptions,
  vanishedGradientRows,
  type Attack,
  type AttackContext,
  type AttackProtocol,
  type AttackTarget,
  type GradientMode,
  type JsonSchema,
  type NoisePolicy,
  type Norm,
  type OptionsOf,
  type ThreatModel,
} from '@dbp-bench/framework';
import { estimateGradient, type EotOptions } from '../estimator';
import { evaluateRandomized } from '../evaluate';
import { gatherRows, replaceRows, scatterRows } from '../rows';
import type { AttackRunContext } from '../types';

/** ADDT protocol budgets and step sizes (pixel units). */
export const ADDT_DEFAULTS: Readonly<Record<Norm, { eps: number; stepSize: number }>> = {
  linf: { eps: 8 / 255, stepSize: 2 / 255 },
  l2: { eps: 0.5, stepSize: 0.1 },
};

/**
 * Refuse an l_2 budget larger than the l_2 diameter sqrt(H·W·C) of the input box [0, 1]^(H·W·C) (a
 * ball that large leaves the image unconstrained: the value is a mistake). Names the attack's option.
 */
export function checkBudgetFitsInput(id: string, threat: ThreatModel, x: tf.Tensor4D): void {
  const problem = budgetExceedsInput(threat, x.shape.slice(1));
  if (problem) throw new ConfigValidationError(`options of attack '${id}'`, [`$.eps: ${problem}`]);
}

export type GradientChoice = 'target' | GradientMode;
/** The `gradient` option of the attacks: the target's mode, or one of GRADIENT_MODES. */
export const GRADIENT_CHOICES: readonly GradientChoice[] = ['target', ...GRADIENT_MODES];

/**
 * The EoT estimator option (`eot`) of the attacks' schemas: K replicas per sample in the batch
 * dimension, micro-batched; `defaultSamples` is the attack's default K.
 */
export function eotSchema<const K extends number>(defaultSamples: K) {
  return {
    type: 'object',
    additionalProperties: false,
    description: 'EoT gradient estimator: K replicas per sample in the batch dimension, micro-batched.',
    properties: {
      samples: { type: 'integer', minimum: 1, default: defaultSamples, description: 'replicas per sample (K)' },
      microBatch: { type: 'integer', minimum: 1, default: 16, description: 'rows per forward+backward pass' },
    },
    default: {},
  } as const;
}

/** Options common to PGD and DW-box (JSON Schema properties); `defaultEot` is the default EoT K. */
export function pgdProperties<const K extends number>(defaultEot: K) {
  return {
    norm: { enum: [...NORMS], default: 'linf', description: 'threat model norm' },
    eps: {
      type: ['number', 'null'],
      exclusiveMinimum: 0,
      default: null,
      description: 'budget in [0,1] pixel units, > 0 and at most 1 (linf) or 1000 (l2); null = 8/255 (linf) or 0.5 (l2)',
    },
    stepSize: {
      type: ['number', 'null'],
      exclusiveMinimum: 0,
      default: null,
      description: 'step size, > 0 and at most 1 (linf) or 1000 (l2); null = 2/255 (linf) or 0.1 (l2)',
    },
    steps: { type: 'integer', minimum: 1, default: 20, description: 'PGD iterations' },
    randomStart: { type: 'boolean', default: false, description: 'start from a keyed random point of the ball' },
    restarts: {
      type: 'integer',
      minimum: 1,
      default: 1,
      description: 'restarts; per sample the perturbation that fools the model is kept',
    },
    loss: { enum: [...LOSS_NAMES], default: 'ce', description: 'ce (cross-entropy), cw (margin) or dlr' },
    eot: eotSchema(defaultEot),
    gradient: {
      enum: [...GRADIENT_CHOICES],
      default: 'target',
      description:
        "gradient estimator through the defense; 'target' = the target's mode, 'bpda' = the target's BPDA (any defense), 'surrogate' = the defense's shorter-step twin (Lee & Kim; diffusion defenses)",
    },
    selectionDraws: { type: 'integer', minimum: 1, default: 10, description: 'purifications per sample used to compare restarts' },
  } as const;
}

const pgd = definePlugin({
  kind: 'attack',
  id: 'pgd',
  description: 'PGD (l_inf / l_2) with EoT and exact or BPDA gradients; ADDT protocol defaults (20 steps, EoT 10)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: pgdProperties(10),
    allOf: budgetRules('linf'),
  },
  create: (options): PgdAttack => new PgdAttack(options),
});
export default pgd;

/**
 * The options of PGD (and of DW-box but `policy`), validated, defaults filled. `eps` / `stepSize`
 * null: the ADDT value of the norm (ADDT_DEFAULTS; `threat` and `stepSize` hold the resolved ones).
 */
export type PgdOptions = OptionsOf<typeof pgd.schema>;
/** What the PgdAttack constructor takes: any subset of the options (eot too), validated and filled. */
export type PgdOptionsInput = Partial<Omit<PgdOptions, 'eot'>> & { eot?: Partial<PgdOptions['eot']> };
/** The JSON Schema of the pgd plugin's options. */
export const PGD_SCHEMA: JsonSchema = pgd.schema;

/** Resolve null eps / stepSize to the ADDT defaults of the norm. */
export function resolveBudget(o: { norm: Norm; eps: number | null; stepSize: number | null }): { eps: number; stepSize: number } {
  return { eps: o.eps ?? ADDT_DEFAULTS[o.norm].eps, stepSize: o.stepSize ?? ADDT_DEFAULTS[o.norm].stepSize };
}

/** True when every row of every call sees the same noise (no fresh randomness): EoT replicas would be identical. */
export function targetIsDeterministic(target: AttackTarget): boolean {
  const caps = target.defense.capabilities;
  if (!caps.stochastic || caps.streams.length === 0) return true;
  if (target instanceof PolicyTarget) return caps.streams.every((s) => target.keyedKinds.has(s));
  return false;
}

/**
 * PGD with a gradient estimator. One loop serves white-box (fresh noise), EoT, BPDA and the DW-box
 * policies (the target decides which noise is keyed).
 */
export class PgdAttack implements Attack {
  readonly id: string;
  readonly options: PgdOptions;
  readonly threat: ThreatModel;
  readonly stepSize: number;

  /**
   * `options`: any subset of the plugin's options (validated by its schema, defaults filled).
   * `def`: the plugin whose schema and id apply (DW-box passes its own).
   */
  constructor(options: PgdOptionsInput = {}, def: { readonly id: string; readonly schema: JsonSchema } = pgd) {
    this.id = def.id;
    this.options = pluginOptions({ kind: 'attack', id: def.id, schema: def.schema }, options) as PgdOptions;
    const { eps, stepSize } = resolveBudget(this.options);
    this.threat = { norm: this.options.norm, eps };
    this.stepSize = stepSize;
  }

  /** The noise policy the final evaluation must use for this attack (`fresh` for plain PGD). */
  get policy(): NoisePolicy {
    return 'fresh';
  }

  /** The declared protocol (dw-box inherits it with its own policy). */
  protocol(): AttackProtocol {
    const o = this.options;
    return {
      policy: this.policy,
      eotSamples: o.eot.samples,
      steps: o.steps,
      restarts: o.restarts,
      gradient: o.gradient,
      stepSize: this.stepSize,
      requires: { inputGradients: true },
    };
  }

  /** The target the attack runs on (subclasses check or adapt the noise policy). */
  protected prepareTarget(target: AttackTarget, ctx: AttackContext): AttackTarget {
    void ctx;
    return target;
  }

  /** EoT replicas actually used: 1 when the target has no fresh randomness (all replicas would be equal). */
  protected eotSamples(target: AttackTarget, ctx: AttackContext): number {
    const k = this.options.eot.samples;
    if (k > 1 && targetIsDeterministic(target)) {
      ctx.logger.debug(`${this.id}: the target has no fresh randomness; EoT ${k} reduced to 1 (identical replicas give the same update)`);
      return 1;
    }
    return k;
  }

  protected gradientMode(target: AttackTarget): GradientMode {
    return this.options.gradient === 'target' ? target.gradient : this.options.gradient;
  }

  /** Attack `x` (NHWC in [0,1]) with labels `y`; returns x + delta (caller disposes). */
  async perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> {
    const t = this.prepareTarget(target, ctx);
    const run = ctx as AttackRunContext;
    const B = x.shape[0];
    if (ctx.sampleIndices.length !== B) throw new RangeError(`${this.id}: ${ctx.sampleIndices.length} sample indices for a batch of ${B}`);
    checkBudgetFitsInput(this.id, this.threat, x);
    const { restarts } = this.options;
    const bar = ctx.logger.progress(
      ctx.label ?? `${this.id} ${this.threat.norm} eps=${this.threat.eps.toFixed(4)}`,
      restarts * this.options.steps,
    );
    let best: tf.Tensor4D | undefined;
    const bestScore = new Float64Array(B).fill(Infinity);
    let active = Array.from({ length: B }, (_, i) => i);
    // Diagnostics for the runner: did the first gradient of each row vanish (restart 0 covers every row)?
    const vanished: (boolean | null)[] = new Array<boolean | null>(B).fill(null);
    try {
      for (let r = 0; r < restarts && active.length > 0; r++) {
        const all = active.length === B;
        const xs = all ? x : gatherRows(x, active);
        const ys = all ? y : gatherRows(y, active);
        const idx = active.map((i) => ctx.sampleIndices[i]);
        try {
          const rows = active;
          const onFirst = r === 0 && ctx.reportDiagnostics ? (v: boolean[]) => v.forEach((z, j) => (vanished[rows[j]] = z)) : undefined;
          const adv = this.runOnce(t, xs, ys, idx, r, run, () => bar.tick(), onFirst);
          if (restarts === 1) {
            best = adv;
            break;
          }
          // Per sample, keep the restart whose perturbation fools the most purifications.
          const rec = evaluateRandomized(t, adv, ys, idx, this.options.selectionDraws);
          const better = active.filter((i, j) => rec[j].mean < bestScore[i]);
          rec.forEach((e, j) => (bestScore[active[j]] = Math.min(bestScore[active[j]], e.mean)));
          if (!best) {
            best = all ? adv : scatterRows(x, adv, active);
          } else if (better.length > 0) {
            best = replaceRows(
              best,
              adv,
              better.map((i) => active.indexOf(i)),
              better,
            );
          }
          if (best !== adv) adv.dispose();
          active = active.filter((i) => bestScore[i] > 0);
        } finally {
          if (!all) {
            xs.dispose();
            ys.dispose();
          }
        }
      }
    } catch (err) {
      best?.dispose();
      throw err;
    } finally {
      bar.done();
    }
    ctx.reportDiagnostics?.({ gradientVanished: vanished, stepSize: this.stepSize });
    return best ?? x.clone();
  }

  /**
   * One PGD run from delta = 0 (or a keyed random start). `onFirstGradient` receives, per row, whether
   * the first gradient estimate was all zero or non-finite (vanishedGradientRows).
   */
  protected runOnce(
    target: AttackTarget,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    sampleIndices: readonly number[],
    restart: number,
    ctx: AttackRunContext,
    tick: () => void,
    onFirstGradient?: (vanished: boolean[]) => void,
  ): tf.Tensor4D {
    const { norm, eps } = this.threat;
    const o = this.options;
    const eot: EotOptions = { samples: this.eotSamples(target, ctx), microBatch: o.eot.microBatch };
    const gradient = this.gradientMode(target);
    let adv: tf.Tensor4D = o.randomStart ? randomStart(x, sampleIndices, norm, eps, ctx.seed, restart) : x.clone();
    for (let step = 1; step <= o.steps; step++) {
      let est;
      try {
        est = estimateGradient(target, adv, y, sampleIndices, {
          eot,
          loss: o.loss,
          gradient,
          keepReplicaGradients: Boolean(ctx.onStep && ctx.recordReplicaGradients),
        });
      } catch (err) {
        adv.dispose();
        throw err;
      }
      const next = pgdStep(x, adv, est.grad, norm, eps, this.stepSize);
      adv.dispose();
      adv = next;
      try {
        if (step === 1) onFirstGradient?.(vanishedGradientRows(est.grad));
        ctx.onStep?.({
          attack: this.id,
          restart,
          step,
          totalSteps: o.steps,
          sampleIndices,
          x,
          xAdv: adv,
          grad: est.grad,
          loss: est.loss,
          correctFraction: est.correctFraction,
          draws: eot.samples,
          predictions: est.replicaPred,
          stepSize: new Float32Array(x.shape[0]).fill(this.stepSize),
          replicaGrads: est.replicaGrads,
        });
      } finally {
        est.grad.dispose();
        est.replicaGrads?.dispose();
      }
      tick();
    }
    return adv;
  }

  /** Options and resolved budget, for provenance. */
  describe(): Record<string, unknown> {
    return { id: this.id, ...this.options, eps: this.threat.eps, stepSize: this.stepSize, policy: this.policy };
  }
}
