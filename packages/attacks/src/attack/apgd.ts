/**
 * APGD (Croce & Hein, ICML 2020) with EoT: the AutoAttack `rand` recipe (APGD-CE then APGD-DLR,
 * 100 iterations, EoT 20, one restart) used by DiffPure (ALGORITHMS.md §6.4).
 *
 * The iteration follows autopgd_base.py: random start on the ε-sphere, step size 2ε, momentum 0.75,
 * checkpoints at p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06) (in iterations:
 * first after ⌊0.22 n⌋, then shrinking by ⌊0.03 n⌋ down to ⌊0.06 n⌋), where the step size of a sample
 * is halved and its iterate reset to its best point when the loss increased in at most 75 % of the
 * steps since the last checkpoint, or when it was not halved at the last checkpoint and its best loss
 * did not improve.
 *
 * Changes for randomized defenses (documented deviations from upstream AutoAttack):
 * - the loss that steers the step size is the mean over the K EoT replicas (upstream: the last one);
 * - upstream keeps an iterate as "adversarial" as soon as one stochastic forward misclassifies it; here
 *   each run returns, per sample, the iterate that fooled the largest fraction of its K replicas (ties:
 *   the larger mean loss), and the runs are combined as in ADDT's Fixed AutoAttack: a sample's stored
 *   value is its mean correctness over `selectionDraws` purifications (initially of the clean input),
 *   replaced only by a smaller one; samples with value 0 are not attacked further. The final verdict is
 *   the evaluation protocol's (evaluateRandomized), never the attack's own forward passes.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  IncompatiblePluginError,
  LOSS_NAMES,
  NORMS,
  ascend,
  budgetRules,
  hash32,
  l2Norm,
  normalizePerSample,
  philoxNormals,
  philoxUniforms,
  definePlugin,
  pluginOptions,
  vanishedGradientRows,
  type Attack,
  type AttackContext,
  type AttackProtocol,
  type AttackTarget,
  type JsonSchema,
  type LossName,
  type NoisePolicy,
  type Norm,
  type OptionsOf,
  type ThreatModel,
} from '@dbp-bench/framework';
import { estimateGradient, type EotOptions, type EstimateOptions } from '../estimator';
import { evaluateRandomized } from '../evaluate';
import { ADDT_DEFAULTS, GRADIENT_CHOICES, checkBudgetFitsInput, eotSchema, targetIsDeterministic } from './pgd';
import { LiveTensors, gatherRows, replaceRows, selectRows } from '../rows';
import type { AttackRunContext } from '../types';

/**
 * DiffAttack's deviated-reconstruction loss (ALGORITHMS.md §14.2) as an option of the exact chain
 * gradient: L = L_cls + weight · L_dev over `steps` reverse states; absent: the plain loss.
 */
/**
 * The threat options of the APGD-family attacks (apgd, autoattack-rand, diffhammer): the norm and the
 * budget, null = the ADDT default of the norm.
 */
export const BUDGET_OPTIONS = {
  norm: { enum: [...NORMS], default: 'linf' },
  eps: {
    type: ['number', 'null'],
    exclusiveMinimum: 0,
    default: null,
    description: 'budget, > 0 and at most 1 (linf) or 1000 (l2); null = 8/255 (linf) or 0.5 (l2)',
  },
} as const;

export const DEVIATION_SCHEMA = {
  type: ['object', 'null'],
  additionalProperties: false,
  default: null,
  description:
    'DiffAttack: add weight x L_dev (MSE of the reverse states to the forward-noised states, same eps_f) to the loss; exact gradients only; null: the plain loss',
  properties: {
    weight: { type: 'number', minimum: 0, default: 1, description: 'lambda (DiffAttack: 1)' },
    steps: {
      oneOf: [{ const: 'all' }, { type: 'integer', minimum: 1 }],
      default: 'all',
      description: "reverse states: 'all' or n uniformly spaced ones",
    },
    distance: { enum: ['mse'], default: 'mse', description: 'd: mean squared error over pixels in [-1, 1]' },
    noise: { enum: ['forward'], default: 'forward', description: "x_t built with the purification's own forward draw" },
  },
} as const;

const apgd = definePlugin({
  kind: 'attack',
  id: 'apgd',
  description: "APGD-CE + APGD-DLR with EoT (AutoAttack 'rand': 100 iterations, EoT 20), decisions by repeated purifications",
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...BUDGET_OPTIONS,
      steps: { type: 'integer', minimum: 1, default: 100, description: 'iterations per run (n_iter)' },
      losses: {
        type: 'array',
        items: { enum: [...LOSS_NAMES] },
        minItems: 1,
        default: ['ce', 'dlr'],
        description: "runs in order; ['ce', 'dlr'] = AutoAttack 'rand'",
      },
      restarts: { type: 'integer', minimum: 1, default: 1, description: 'random restarts per loss' },
      eot: eotSchema(20),
      momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.75 },
      rho: { type: 'number', minimum: 0, maximum: 1, default: 0.75 },
      gradient: { enum: [...GRADIENT_CHOICES], default: 'target' },
      deviation: DEVIATION_SCHEMA,
      selectionDraws: {
        type: 'integer',
        minimum: 1,
        default: 20,
        description: 'purifications per sample that compare runs (Fixed AutoAttack eval_iter)',
      },
    },
    allOf: budgetRules('linf'),
  },
  create: (options): ApgdAttack => new ApgdAttack(options),
});
export default apgd;

/**
 * The options of APGD, validated, defaults filled: `steps` is n_iter, `losses` run in order on the
 * samples not yet fooled, `momentum` α and `rho` ρ of the checkpoint test, `selectionDraws` the
 * purifications per sample that decide between runs (Fixed AutoAttack `eval_iter`).
 */
export type ApgdOptions = OptionsOf<typeof apgd.schema>;
/** What the ApgdAttack constructor takes: any subset of the options (eot too), validated and filled. */
export type ApgdOptionsInput = Partial<Omit<ApgdOptions, 'eot'>> & { eot?: Partial<ApgdOptions['eot']> };
/** The JSON Schema of the apgd plugin's options. */
export const APGD_SCHEMA: JsonSchema = apgd.schema;

/** Iteration counts of the checkpoint schedule: [n_iter_2, n_iter_min, size_decr]. */
export function apgdSchedule(nIter: number): { first: number; min: number; decrease: number } {
  return {
    first: Math.max(Math.floor(0.22 * nIter), 1),
    min: Math.max(Math.floor(0.06 * nIter), 1),
    decrease: Math.max(Math.floor(0.03 * nIter), 1),
  };
}

/** Iterations (0-based i) after which APGD checks its step sizes. */
export function apgdCheckpoints(nIter: number): number[] {
  const s = apgdSchedule(nIter);
  const out: number[] = [];
  let k = s.first;
  let counter = 0;
  for (let i = 0; i < nIter; i++) {
    counter++;
    if (counter === k) {
      out.push(i);
      k = Math.max(k - s.decrease, s.min);
      counter = 0;
    }
  }
  return out;
}

/** t / (||t|| + 1e-12) per sample (autopgd_base.py's normalisation). */
function normalize(t: tf.Tensor4D, norm: Norm): tf.Tensor4D {
  return normalizePerSample(t, norm, 1e-12);
}

/** AutoAttack's start: x + ε·t/||t|| (t uniform in [−1,1] for l_inf, Gaussian for l2), keyed per sample. */
export function apgdStart(
  x: tf.Tensor4D,
  sampleIndices: readonly number[],
  norm: Norm,
  eps: number,
  seed: number,
  run: number,
): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const per = h * w * c;
  const data = new Float32Array(b * per);
  const k1 = hash32('apgd-start');
  for (let i = 0; i < b; i++) {
    const row = data.subarray(i * per, (i + 1) * per);
    if (norm === 'linf') {
      philoxUniforms(row, sampleIndices[i] >>> 0, run >>> 0, 0, seed >>> 0, k1);
      for (let j = 0; j < per; j++) row[j] = 2 * row[j] - 1;
    } else {
      philoxNormals(row, sampleIndices[i] >>> 0, run >>> 0, 0, seed >>> 0, k1);
    }
  }
  return tf.tidy(() => {
    const t = tf.tensor4d(data, [b, h, w, c]);
    return tf.clipByValue(tf.add(x, tf.mul(normalize(t, norm), eps)), 0, 1) as tf.Tensor4D;
  });
}

/**
 * One APGD update (autopgd_base.py): z = P(x_k + η·u(g)), x_{k+1} = P(x_k + a(z − x_k) + (1 − a)(x_k − x_{k−1}))
 * with u = sign (l_inf) or g/‖g‖₂ (l2), P the projection onto the ε-ball around x and the [0, 1] box,
 * `stepSize` η per row and momentum `a` (1 at the first step).
 */
export function apgdStep(
  x: tf.Tensor4D,
  xAdv: tf.Tensor4D,
  xOld: tf.Tensor4D,
  grad: tf.Tensor4D,
  stepSize: Float32Array,
  a: number,
  norm: Norm,
  eps: number,
): tf.Tensor4D {
  const B = x.shape[0];
  return tf.tidy(() => {
    const grad2 = tf.sub(xAdv, xOld);
    const step = tf.tensor4d(stepSize, [B, 1, 1, 1]);
    if (norm === 'linf') {
      const xLo = tf.sub(x, eps);
      const xHi = tf.add(x, eps);
      let z: tf.Tensor = ascend(xAdv, grad, 'linf', step);
      z = tf.clipByValue(tf.minimum(tf.maximum(z, xLo), xHi), 0, 1);
      z = tf.add(tf.add(xAdv, tf.mul(tf.sub(z, xAdv), a)), tf.mul(grad2, 1 - a));
      return tf.clipByValue(tf.minimum(tf.maximum(z, xLo), xHi), 0, 1) as tf.Tensor4D;
    }
    const lp = (z: tf.Tensor4D): tf.Tensor4D => {
      const d = tf.sub(z, x) as tf.Tensor4D;
      return tf.clipByValue(tf.add(x, tf.mul(normalize(d, 'l2'), tf.minimum(eps, l2Norm(d)))), 0, 1) as tf.Tensor4D;
    };
    let z = lp(tf.add(xAdv, tf.mul(step, normalize(grad, 'l2'))) as tf.Tensor4D);
    z = tf.add(tf.add(xAdv, tf.mul(tf.sub(z, xAdv), a)), tf.mul(grad2, 1 - a)) as tf.Tensor4D;
    return lp(z);
  });
}

/**
 * The checkpoint test after iteration `i` (k iterations since the last checkpoint): per row 1 (halve the
 * step and reset to the best point) when the loss rose in at most ρ·k of those steps, or when the step
 * was not halved at the last checkpoint and the best loss did not improve; else 0.
 */
export function apgdCheckpointTest(
  lossSteps: readonly Float32Array[],
  i: number,
  k: number,
  rho: number,
  reducedLastCheck: Float32Array,
  lossBestLastCheck: Float32Array,
  lossBest: Float32Array,
): Float32Array<ArrayBuffer> {
  const B = lossBest.length;
  const fl = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    let t = 0;
    for (let c = 0; c < k; c++) {
      const cur = lossSteps[i - c][b];
      const prev = i - c - 1 >= 0 ? lossSteps[i - c - 1][b] : 0; // upstream reads a zero row here
      if (cur > prev) t++;
    }
    const osc = t <= k * rho ? 1 : 0;
    const noImpr = (1 - reducedLastCheck[b]) * (lossBestLastCheck[b] >= lossBest[b] ? 1 : 0);
    fl[b] = Math.max(osc, noImpr);
  }
  return fl;
}

/**
 * APGD's step-size control, shared by `apgd` and `diffhammer`: per row the step size (2ε at the start),
 * the best loss seen with its iterate and gradient, and at each checkpoint of `apgdSchedule` the test
 * of `apgdCheckpointTest`: rows that stalled get their step halved and restart from their best point.
 * Owns the tensors it keeps (the best iterate and gradient); `dispose` releases them.
 */
export class ApgdStepControl {
  readonly stepSize: Float32Array;
  private readonly lossBest: Float32Array;
  private readonly lossSteps: Float32Array[] = [];
  private lossBestLastCheck: Float32Array;
  private reducedLastCheck: Float32Array;
  private xBest: tf.Tensor4D;
  private gradBest: tf.Tensor4D;
  private readonly sched: { first: number; min: number; decrease: number };
  private k: number;
  private counter = 0;

  constructor(
    steps: number,
    private readonly rho: number,
    eps: number,
    xStart: tf.Tensor4D,
    gradStart: tf.Tensor4D,
    lossStart: Float32Array,
  ) {
    const B = xStart.shape[0];
    this.stepSize = new Float32Array(B).fill(2 * eps);
    this.lossBest = Float32Array.from(lossStart);
    this.lossBestLastCheck = Float32Array.from(lossStart);
    this.reducedLastCheck = new Float32Array(B).fill(1);
    this.sched = apgdSchedule(steps);
    this.k = this.sched.first;
    this.xBest = xStart.clone();
    this.gradBest = gradStart.clone();
  }

  /**
   * The loss `y1` of iterate `xAdv` (after update `i`, 0-based) with its gradient `grad`. Returns the
   * iterate and gradient to continue from: new tensors (the caller disposes the ones it passed) when a
   * checkpoint sent some rows back to their best point, else null.
   */
  observe(i: number, y1: Float32Array, xAdv: tf.Tensor4D, grad: tf.Tensor4D): { xAdv: tf.Tensor4D; grad: tf.Tensor4D } | null {
    this.lossSteps.push(Float32Array.from(y1));
    const improved = Array.from(y1, (v, b) => v > this.lossBest[b]);
    if (improved.some(Boolean)) {
      const xb = selectRows(improved, xAdv, this.xBest);
      const gb = selectRows(improved, grad, this.gradBest);
      tf.dispose([this.xBest, this.gradBest]);
      this.xBest = xb;
      this.gradBest = gb;
      improved.forEach((m, b) => m && (this.lossBest[b] = y1[b]));
    }
    if (++this.counter < this.k) return null;
    const fl = apgdCheckpointTest(this.lossSteps, i, this.k, this.rho, this.reducedLastCheck, this.lossBestLastCheck, this.lossBest);
    this.reducedLastCheck = fl;
    this.lossBestLastCheck = Float32Array.from(this.lossBest);
    this.k = Math.max(this.k - this.sched.decrease, this.sched.min);
    this.counter = 0;
    const reduce = Array.from(fl, (v) => v > 0);
    if (!reduce.some(Boolean)) return null;
    reduce.forEach((m, b) => m && (this.stepSize[b] /= 2));
    return { xAdv: selectRows(reduce, this.xBest, xAdv), grad: selectRows(reduce, this.gradBest, grad) };
  }

  dispose(): void {
    tf.dispose([this.xBest, this.gradBest]);
  }
}

export class ApgdAttack implements Attack {
  readonly id = 'apgd';
  readonly options: ApgdOptions;
  readonly threat: ThreatModel;

  /** `options`: any subset of the plugin's options (validated by its schema, defaults filled). */
  constructor(options: ApgdOptionsInput = {}) {
    this.options = pluginOptions(apgd, options);
    this.threat = { norm: this.options.norm, eps: this.options.eps ?? ADDT_DEFAULTS[this.options.norm].eps };
  }

  get policy(): NoisePolicy {
    return 'fresh';
  }

  /** The declared protocol: no fixed step size (APGD adapts it per sample); restarts per loss, runs = restarts x losses. */
  protocol(): AttackProtocol {
    const o = this.options;
    return {
      policy: this.policy,
      eotSamples: o.eot.samples,
      steps: o.steps,
      restarts: o.restarts,
      runs: o.restarts * o.losses.length,
      gradient: o.gradient,
      stepSize: null,
      requires: { inputGradients: true },
    };
  }

  async perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> {
    const o = this.options;
    const B = x.shape[0];
    if (ctx.sampleIndices.length !== B) throw new RangeError(`apgd: ${ctx.sampleIndices.length} sample indices for a batch of ${B}`);
    checkBudgetFitsInput('apgd', this.threat, x);
    if (o.losses.includes('dlr') && target.classifier.numClasses < 3) {
      throw new IncompatiblePluginError(
        `attack 'apgd' with loss 'dlr' needs at least 3 classes; the classifier has ${target.classifier.numClasses}`,
      );
    }
    const run = ctx as AttackRunContext;
    const runs = o.losses.length * o.restarts;
    const bar = ctx.logger.progress(ctx.label ?? `apgd ${this.threat.norm} eps=${this.threat.eps.toFixed(4)}`, runs * o.steps);
    // Fixed-AutoAttack bookkeeping: mean correctness over selectionDraws purifications, starting at the clean input.
    const score = evaluateRandomized(target, x, y, ctx.sampleIndices, o.selectionDraws).map((r) => r.mean);
    let best = x.clone();
    // Diagnostics for the runner: first gradient per row (the first run covers every row ever attacked),
    // and which rows got an iterate (the others are returned clean on purpose).
    const vanished: (boolean | null)[] = new Array<boolean | null>(B).fill(null);
    const replaced: boolean[] = new Array<boolean>(B).fill(false);
    try {
      let runIndex = 0;
      for (const loss of o.losses) {
        for (let r = 0; r < o.restarts; r++, runIndex++) {
          const active = score.map((s, i) => (s > 0 ? i : -1)).filter((i) => i >= 0);
          if (active.length === 0) break;
          const all = active.length === B;
          const xs = all ? x : gatherRows(x, active);
          const ys = all ? y : gatherRows(y, active);
          const idx = active.map((i) => ctx.sampleIndices[i]);
          try {
            const onFirst =
              runIndex === 0 && ctx.reportDiagnostics ? (v: boolean[]) => v.forEach((z, j) => (vanished[active[j]] = z)) : undefined;
            const adv = this.runOnce(target, xs, ys, idx, loss, runIndex, run, () => bar.tick(), onFirst);
            const rec = evaluateRandomized(target, adv, ys, idx, o.selectionDraws);
            const better = active.filter((i, j) => rec[j].mean < score[i]);
            for (const i of better) replaced[i] = true;
            if (better.length > 0) {
              best = replaceRows(
                best,
                adv,
                better.map((i) => active.indexOf(i)),
                better,
              );
              rec.forEach((e, j) => (score[active[j]] = Math.min(score[active[j]], e.mean)));
            }
            adv.dispose();
          } finally {
            if (!all) {
              xs.dispose();
              ys.dispose();
            }
          }
        }
      }
    } catch (err) {
      best.dispose();
      throw err;
    } finally {
      bar.done();
    }
    ctx.reportDiagnostics?.({ gradientVanished: vanished, keptClean: replaced.map((r) => !r) });
    return best;
  }

  /**
   * One APGD run with one loss; returns per sample the iterate that fooled most EoT replicas.
   * `onFirstGradient` receives, per row, whether the gradient at the start point was all zero or
   * non-finite (vanishedGradientRows).
   */
  runOnce(
    target: AttackTarget,
    x: tf.Tensor4D,
    y: tf.Tensor1D,
    sampleIndices: readonly number[],
    loss: LossName,
    runIndex: number,
    ctx: AttackRunContext,
    tick: () => void = () => {},
    onFirstGradient?: (vanished: boolean[]) => void,
  ): tf.Tensor4D {
    const o = this.options;
    const { norm, eps } = this.threat;
    const B = x.shape[0];
    let K = o.eot.samples;
    if (K > 1 && targetIsDeterministic(target)) {
      ctx.logger.debug(`apgd: the target has no fresh randomness; EoT ${K} reduced to 1`);
      K = 1;
    }
    const eot: EotOptions = { samples: K, microBatch: o.eot.microBatch };
    const gradient = o.gradient === 'target' ? target.gradient : o.gradient;
    const keepReplica = Boolean(ctx.onStep && ctx.recordReplicaGradients);
    const estimate = (
      at: tf.Tensor4D,
    ): { grad: tf.Tensor4D; loss: Float32Array; correct: Float32Array; pred: Int32Array; replica?: tf.Tensor4D } => {
      const e = estimateGradient(target, at, y, sampleIndices, {
        eot,
        loss,
        gradient,
        keepReplicaGradients: keepReplica,
        deviation: (o.deviation ?? undefined) as EstimateOptions['deviation'], // steps: 'all' | integer (oneOf, validated by the schema)
      });
      const mean = K === 1 ? e.grad : tf.tidy(() => tf.div(e.grad, K) as tf.Tensor4D);
      if (mean !== e.grad) e.grad.dispose();
      return { grad: mean, loss: e.loss, correct: e.correctFraction, pred: e.replicaPred, replica: e.replicaGrads };
    };
    const live = new LiveTensors();
    let control: ApgdStepControl | undefined;
    try {
      let xAdv = live.track(apgdStart(x, sampleIndices, norm, eps, ctx.seed, runIndex));
      let est = estimate(xAdv);
      let grad = live.track(est.grad);
      onFirstGradient?.(vanishedGradientRows(grad));
      control = new ApgdStepControl(o.steps, o.rho, eps, xAdv, grad, est.loss);
      const stepSize = control.stepSize;
      let xOld = live.track(xAdv.clone());
      let xRet = live.track(xAdv.clone());
      let prevLoss = est.loss;
      let prevCorrect = est.correct;
      let prevPred = est.pred;
      const retFooled = Float64Array.from(est.correct, (c) => 1 - c);
      const retLoss = Float32Array.from(est.loss);
      for (let i = 0; i < o.steps; i++) {
        const a = i > 0 ? o.momentum : 1;
        const next = apgdStep(x, xAdv, xOld, grad, stepSize, a, norm, eps);
        xOld = live.swap(xOld, xAdv.clone());
        xAdv = live.swap(xAdv, next);
        ctx.onStep?.({
          attack: `apgd-${loss}`,
          restart: runIndex,
          step: i + 1,
          totalSteps: o.steps,
          sampleIndices,
          x,
          xAdv,
          grad,
          loss: prevLoss,
          correctFraction: prevCorrect,
          draws: K,
          predictions: prevPred,
          stepSize: Float32Array.from(stepSize),
          replicaGrads: est.replica,
        });
        est.replica?.dispose();

        est = estimate(xAdv);
        grad = live.swap(grad, est.grad);
        const y1 = est.loss;
        prevLoss = y1;
        prevCorrect = est.correct;
        prevPred = est.pred;
        // The returned point: most EoT replicas fooled, then the larger loss.
        const retMask = Array.from({ length: B }, (_, b) => {
          const f = 1 - est.correct[b];
          return f > retFooled[b] || (f === retFooled[b] && y1[b] > retLoss[b]);
        });
        if (retMask.some(Boolean)) {
          xRet = live.swap(xRet, selectRows(retMask, xAdv, xRet));
          retMask.forEach((m, b) => {
            if (m) {
              retFooled[b] = 1 - est.correct[b];
              retLoss[b] = y1[b];
            }
          });
        }
        const back = control.observe(i, y1, xAdv, grad);
        if (back) {
          xAdv = live.swap(xAdv, back.xAdv);
          grad = live.swap(grad, back.grad);
        }
        tick();
      }
      est.replica?.dispose();
      // Hand xRet out; everything else is disposed in finally.
      live.release(xRet);
      return xRet;
    } finally {
      live.dispose();
      control?.dispose();
    }
  }

  describe(): Record<string, unknown> {
    return { id: this.id, ...this.options, eps: this.threat.eps, policy: this.policy };
  }
}
