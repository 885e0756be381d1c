/**
 * DiffHammer (Wang et al., NeurIPS 2024): the selective EM attack with gradient grafting and
 * N-evaluation (ALGORITHMS.md §14.1).
 *
 * Per iteration, N purifications of the iterate with fresh draws are both the evaluation draws (their
 * predictions go to the step hook) and the attack's candidates. Per draw i: the loss L_i and the
 * classifier-level gradient h_i = ∇_u ℓ(f(u), y) at the purified point u (one classifier backward, no
 * chain). With u(h) = sign(h) (l_inf) or h/‖h‖₂ (l2):
 *   select   â = argmax_a Σ_b ELU(L_b + ε⟨u(h_a), h_b⟩)
 *   E-step   q_b = sigmoid(λ(L_b + ⟨u(h_â), h_b⟩))
 *   M-step   g̃ = Σ_b q_b h_b / Σ_b q_b
 *   graft    g = J_{φ_â}(x + r)ᵀ g̃: ONE backward through the chain of draw â, replayed with the noise
 *            it drew (recorded, so the replay is bitwise the same purification)
 *   stepwise g ← t^(−α) g + (1 − t^(−α)) g_prev (not at the first iteration)
 * and the APGD update (apgd.ts: step 2ε, momentum, checkpoints), the step size steered by the maximum
 * loss over the N draws. Runs: one per loss ([cw, ce, dlr]); runs after the first only attack samples
 * whose avgASR (the largest fraction of the N draws fooled at any iterate so far) is at most the
 * restart threshold. Returned per sample: the last iterate that raised worASR (some draw fooled) or
 * raised the mean loss without lowering it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  IncompatiblePluginError,
  LOSS_NAMES,
  budgetRules,
  checkGradientMode,
  definePlugin,
  eotRows,
  lossFunction,
  pluginOptions,
  purifyWithGradient,
  vanishedGradientRows,
  type Attack,
  type AttackContext,
  type AttackProtocol,
  type AttackTarget,
  type GradientMode,
  type JsonSchema,
  type LossName,
  type NoisePolicy,
  type NoiseSource,
  type Norm,
  type OptionsOf,
  type ThreatModel,
} from '@dbp-bench/framework';
import { ADDT_DEFAULTS, GRADIENT_CHOICES, checkBudgetFitsInput } from './pgd';
import { ApgdStepControl, BUDGET_OPTIONS, apgdStart, apgdStep } from './apgd';
import { NoiseRecord, RecordingNoiseSource } from '../replay-noise';
import { LiveTensors, gatherRows, replaceRows, selectRows } from '../rows';
import type { AttackRunContext } from '../types';

const diffhammer = definePlugin({
  kind: 'attack',
  id: 'diffhammer',
  description: 'DiffHammer: selective EM attack, N purifications per iterate, one grafted chain backward (APGD steps)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...BUDGET_OPTIONS,
      steps: { type: 'integer', minimum: 1, default: 50, description: 'iterations per run' },
      losses: {
        type: 'array',
        items: { enum: [...LOSS_NAMES] },
        minItems: 1,
        default: ['cw', 'ce', 'dlr'],
        description: 'one run per loss, in order (DiffHammer: 3 restarts with CW, CE, DLR)',
      },
      evaluations: {
        type: 'integer',
        minimum: 1,
        default: 10,
        description: 'N: purifications per iterate, the evaluation draws and the EM candidates',
      },
      lambda: { type: 'number', exclusiveMinimum: 0, default: 5, description: 'E-step sharpness λ' },
      alpha: { type: 'number', minimum: 0, maximum: 1, default: 0.5, description: 'stepwise averaging exponent α' },
      restartThreshold: {
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: 0.5,
        description: 'runs after the first attack only samples with avgASR at most this',
      },
      momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.75 },
      rho: { type: 'number', minimum: 0, maximum: 1, default: 0.75 },
      gradient: { enum: [...GRADIENT_CHOICES], default: 'target', description: 'gradient mode of the grafted chain backward' },
      microBatch: { type: 'integer', minimum: 1, default: 64, description: 'rows per purification pass (of the B·N)' },
    },
    allOf: budgetRules('linf'),
  },
  create: (options): DiffHammerAttack => new DiffHammerAttack(options),
});
export default diffhammer;

/** The options of diffhammer, validated, defaults filled. */
export type DiffHammerOptions = OptionsOf<typeof diffhammer.schema>;
/** The JSON Schema of the diffhammer plugin's options. */
export const DIFFHAMMER_SCHEMA: JsonSchema = diffhammer.schema;

/**
 * The M-resubmission robustness (1 − p)^M estimated from n failures in N evaluations: the UMVUE
 * C(N − M, n)/C(N, n) (DiffHammer Thm. 2), defined for N ≥ M; 0 when n > N − M.
 */
export function resubmissionRobustness(N: number, M: number, n: number): number {
  for (const [k, v] of Object.entries({ N, M, n })) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`resubmissionRobustness: ${k} must be a non-negative integer, got ${v}`);
  }
  if (M > N) throw new RangeError(`resubmissionRobustness: the UMVUE needs N >= M evaluations (N = ${N}, M = ${M})`);
  if (n > N) throw new RangeError(`resubmissionRobustness: ${n} failures in ${N} evaluations`);
  if (n > N - M) return 0;
  // C(N − M, n)/C(N, n) = Π_{i=0}^{n−1} (N − M − i)/(N − i)
  let r = 1;
  for (let i = 0; i < n; i++) r *= (N - M - i) / (N - i);
  return r;
}

/** The plug-in estimate (1 − n/N)^M (the MLE), biased upwards when N ≤ M. */
export function resubmissionRobustnessMle(N: number, M: number, n: number): number {
  return Math.pow(1 - n / N, M);
}

const elu = (v: number): number => (v > 0 ? v : Math.expm1(v));
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/**
 * The selection and E-step of DiffHammer for B samples with N draws each: `h` [B·N, ...] the
 * classifier-level gradients (sample-major), `loss` their losses. Returns per sample the selected draw
 * â and the weights q (B·N).
 */
export function selectAndWeigh(
  h: tf.Tensor4D,
  loss: Float32Array,
  N: number,
  norm: Norm,
  eps: number,
  lambda: number,
): { selected: Int32Array; q: Float32Array } {
  const B = h.shape[0] / N;
  if (!Number.isInteger(B) || loss.length !== h.shape[0])
    throw new RangeError(`selectAndWeigh: ${h.shape[0]} gradients, ${loss.length} losses, N = ${N}`);
  // M[b][a][c] = <u(h_a), h_c> for the draws of sample b.
  const M = tf.tidy(() => {
    const hr = tf.reshape(h, [B, N, -1]);
    const u = norm === 'linf' ? tf.sign(hr) : tf.div(hr, tf.add(tf.norm(hr, 'euclidean', 2, true), 1e-12));
    return tf.matMul(u, hr, false, true);
  });
  const m = M.dataSync() as Float32Array;
  M.dispose();
  const selected = new Int32Array(B);
  const q = new Float32Array(B * N);
  for (let b = 0; b < B; b++) {
    const L = loss.subarray(b * N, (b + 1) * N);
    const at = (a: number, c: number): number => m[(b * N + a) * N + c];
    let best = -Infinity;
    for (let a = 0; a < N; a++) {
      let s = 0;
      for (let c = 0; c < N; c++) s += elu(L[c] + eps * at(a, c));
      if (s > best) {
        best = s;
        selected[b] = a;
      }
    }
    for (let c = 0; c < N; c++) q[b * N + c] = sigmoid(lambda * (L[c] + at(selected[b], c)));
  }
  return { selected, q };
}

/** The M-step: g̃_b = Σ_c q_c h_c / Σ_c q_c per sample ([B, ...]). */
export function weightedDirection(h: tf.Tensor4D, q: Float32Array, N: number): tf.Tensor4D {
  const [rows, hh, w, c] = h.shape;
  const B = rows / N;
  return tf.tidy(() => {
    const qt = tf.tensor(q, [B, N, 1, 1, 1]);
    const num = tf.sum(tf.mul(tf.reshape(h, [B, N, hh, w, c]), qt), 1);
    return tf.div(num, tf.sum(qt, 1)) as tf.Tensor4D;
  });
}

/**
 * The vector-Jacobian product J_{purify}(x)ᵀ v: one backward through the purification of `x` with
 * `noise` (gradient mode `gradient`), the classifier not involved.
 */
export function purificationVjp(
  target: AttackTarget,
  x: tf.Tensor4D,
  v: tf.Tensor4D,
  noise: NoiseSource,
  gradient: GradientMode,
): tf.Tensor4D {
  return tf.tidy(
    () =>
      tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(purifyWithGradient(target.defense, xx as tf.Tensor4D, noise, gradient), v)))(
        x,
      ) as tf.Tensor4D,
  );
}

/** The N draws of one iterate: losses, predictions, classifier-level gradients and the recorded noise. */
export interface DrawEvaluation {
  /** Per draw (sample-major, B·N). */
  readonly loss: Float32Array;
  readonly pred: Int32Array;
  /** h_i [B·N, ...]: the gradient of the loss at the purified point. Caller disposes (dispose()). */
  readonly h: tf.Tensor4D;
  /** The noise of the B·N purifications. */
  readonly record: NoiseRecord;
  /** Per sample: mean loss, max loss, fraction of draws correct, whether any draw was fooled. */
  readonly meanLoss: Float32Array;
  readonly maxLoss: Float32Array;
  readonly correct: Float32Array;
  readonly anyFooled: boolean[];
  dispose(): void;
}

/** One DiffHammer gradient: the grafted gradient at an iterate, with what it was made of. */
export interface GraftedGradient {
  /** J_{φ_â}ᵀ g̃ per sample (before stepwise averaging). Caller disposes. */
  readonly grad: tf.Tensor4D;
  readonly selected: Int32Array;
  readonly q: Float32Array;
}

export class DiffHammerAttack implements Attack {
  readonly id = 'diffhammer';
  readonly options: DiffHammerOptions;
  readonly threat: ThreatModel;

  /** `options`: any subset of the plugin's options (validated by its schema, defaults filled). */
  constructor(options: Partial<DiffHammerOptions> = {}) {
    this.options = pluginOptions(diffhammer, options);
    this.threat = { norm: this.options.norm, eps: this.options.eps ?? ADDT_DEFAULTS[this.options.norm].eps };
  }

  get policy(): NoisePolicy {
    return 'fresh';
  }

  /** N purifications per iterate (declared as the EoT count), one run per loss, APGD's adaptive step. */
  protocol(): AttackProtocol {
    const o = this.options;
    return {
      policy: this.policy,
      eotSamples: o.evaluations,
      steps: o.steps,
      restarts: o.losses.length,
      gradient: o.gradient,
      stepSize: null,
      requires: { inputGradients: true },
    };
  }

  private gradientMode(target: AttackTarget): GradientMode {
    const g = this.options.gradient === 'target' ? target.gradient : this.options.gradient;
    checkGradientMode(target.defense, g);
    return g;
  }

  /** Purify every sample N times (fresh keyed draws, noise recorded) and differentiate the classifier at each purified point. */
  evaluateDraws(target: AttackTarget, xAdv: tf.Tensor4D, y: tf.Tensor1D, sampleIndices: readonly number[], loss: LossName): DrawEvaluation {
    const N = this.options.evaluations;
    const mb = this.options.microBatch;
    const B = xAdv.shape[0];
    const rows = eotRows(sampleIndices, N);
    const lossFn = lossFunction(loss);
    const L = new Float32Array(B * N);
    const pred = new Int32Array(B * N);
    const parts: tf.Tensor4D[] = [];
    const recorders: RecordingNoiseSource[] = [];
    const yInt = tf.cast(y, 'int32') as tf.Tensor1D;
    let record: NoiseRecord | undefined;
    try {
      for (let s = 0; s < B * N; s += mb) {
        const e = Math.min(B * N, s + mb);
        const rec = new RecordingNoiseSource(target.noise(rows.slice(s, e)));
        recorders.push(rec);
        parts.push(
          tf.tidy(() => {
            const it = tf.tensor1d(
              Array.from({ length: e - s }, (_, i) => Math.floor((s + i) / N)),
              'int32',
            );
            const xr = tf.gather(xAdv, it) as tf.Tensor4D;
            const yr = tf.gather(yInt, it) as tf.Tensor1D;
            const u = target.defense.purify(xr, rec);
            const f = (uu: tf.Tensor4D): tf.Tensor1D => {
              const logits = target.classifier.logits(uu);
              pred.set(tf.argMax(logits, 1).dataSync() as Int32Array, s);
              return lossFn(logits, yr);
            };
            const { value, grad } = tf.valueAndGrad(f)(u, tf.ones([e - s]) as tf.Tensor1D);
            L.set(value.dataSync() as Float32Array, s);
            return grad as tf.Tensor4D;
          }),
        );
      }
      record = new NoiseRecord(recorders);
    } catch (err) {
      tf.dispose(parts);
      throw err;
    } finally {
      for (const r of recorders) for (const t of r.draws.values()) t.dispose();
      yInt.dispose();
    }
    const h = parts.length === 1 ? parts[0] : (tf.concat(parts, 0) as tf.Tensor4D);
    if (parts.length > 1) tf.dispose(parts);
    const labels = tf.tidy(() => tf.cast(y, 'int32').dataSync() as Int32Array);
    const meanLoss = new Float32Array(B);
    const maxLoss = new Float32Array(B);
    const correct = new Float32Array(B);
    const anyFooled: boolean[] = [];
    for (let b = 0; b < B; b++) {
      let sum = 0;
      let max = -Infinity;
      let ok = 0;
      for (let i = 0; i < N; i++) {
        const l = L[b * N + i];
        sum += l;
        max = Math.max(max, l);
        if (pred[b * N + i] === labels[b]) ok++;
      }
      meanLoss[b] = sum / N;
      maxLoss[b] = max;
      correct[b] = ok / N;
      anyFooled.push(ok < N);
    }
    const rec = record;
    return { loss: L, pred, h, record: rec, meanLoss, maxLoss, correct, anyFooled, dispose: () => (h.dispose(), rec.dispose()) };
  }

  /** Select â, weigh the draws (E-step), form g̃ (M-step) and graft it: one backward through draw â's replayed chain. */
  graft(target: AttackTarget, xAdv: tf.Tensor4D, ev: DrawEvaluation): GraftedGradient {
    const o = this.options;
    const N = o.evaluations;
    const { selected, q } = selectAndWeigh(ev.h, ev.loss, N, this.threat.norm, this.threat.eps, o.lambda);
    const noise = ev.record.replay(Array.from(selected, (a, b) => b * N + a));
    const gTilde = weightedDirection(ev.h, q, N);
    try {
      return { grad: purificationVjp(target, xAdv, gTilde, noise, this.gradientMode(target)), selected, q };
    } finally {
      gTilde.dispose();
    }
  }

  async perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> {
    const o = this.options;
    const B = x.shape[0];
    if (ctx.sampleIndices.length !== B) throw new RangeError(`diffhammer: ${ctx.sampleIndices.length} sample indices for a batch of ${B}`);
    checkBudgetFitsInput('diffhammer', this.threat, x);
    if (o.losses.includes('dlr') && target.classifier.numClasses < 3) {
      throw new IncompatiblePluginError(
        `attack 'diffhammer' with loss 'dlr' needs at least 3 classes; the classifier has ${target.classifier.numClasses}`,
      );
    }
    this.gradientMode(target);
    const run = ctx as AttackRunContext;
    const bar = ctx.logger.progress(
      ctx.label ?? `diffhammer ${this.threat.norm} eps=${this.threat.eps.toFixed(4)}`,
      o.losses.length * o.steps,
    );
    const avgAsr = new Float64Array(B); // largest fooled fraction at any iterate, over all runs
    const retWor = new Float64Array(B).fill(-1);
    const retAvg = new Float64Array(B).fill(-1);
    const vanished: (boolean | null)[] = new Array<boolean | null>(B).fill(null);
    let best = x.clone();
    try {
      for (let r = 0; r < o.losses.length; r++) {
        const active = r === 0 ? Array.from({ length: B }, (_, i) => i) : [...avgAsr.keys()].filter((i) => avgAsr[i] <= o.restartThreshold);
        if (active.length === 0) break;
        const all = active.length === B;
        const xs = all ? x : gatherRows(x, active);
        const ys = all ? y : gatherRows(y, active);
        try {
          const onFirst = r === 0 ? (v: boolean[]) => v.forEach((z, j) => (vanished[active[j]] = z)) : undefined;
          const res = this.runOnce(
            target,
            xs,
            ys,
            active.map((i) => ctx.sampleIndices[i]),
            o.losses[r],
            r,
            run,
            () => bar.tick(),
            onFirst,
          );
          const better: number[] = [];
          active.forEach((i, j) => {
            avgAsr[i] = Math.max(avgAsr[i], res.avgAsr[j]);
            if (res.wor[j] > retWor[i] || (res.wor[j] === retWor[i] && res.avg[j] > retAvg[i])) {
              better.push(j);
              retWor[i] = res.wor[j];
              retAvg[i] = res.avg[j];
            }
          });
          if (better.length > 0) {
            best = replaceRows(
              best,
              res.xRet,
              better,
              better.map((j) => active[j]),
            );
          }
          res.xRet.dispose();
        } finally {
          if (!all) tf.dispose([xs, ys]);
        }
      }
    } catch (err) {
      best.dispose();
      throw err;
    } finally {
      bar.done();
    }
    ctx.reportDiagnostics?.({ gradientVanished: vanished });
    return best;
  }

  /**
   * One run with one loss. Returns the selected iterate per sample with its worASR (1 when some draw
   * was fooled there) and fooled fraction, and the run's avgASR (largest fooled fraction at any iterate).
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
  ): { xRet: tf.Tensor4D; wor: Float64Array; avg: Float64Array; avgAsr: Float64Array } {
    const o = this.options;
    const { norm, eps } = this.threat;
    const B = x.shape[0];
    const N = o.evaluations;
    const live = new LiveTensors();
    let ev: DrawEvaluation | undefined;
    let control: ApgdStepControl | undefined;
    try {
      let xAdv = live.track(apgdStart(x, sampleIndices, norm, eps, ctx.seed, runIndex));
      ev = this.evaluateDraws(target, xAdv, y, sampleIndices, loss);
      let grad = live.track(this.graft(target, xAdv, ev).grad);
      onFirstGradient?.(vanishedGradientRows(grad));
      // APGD's step-size control on the maximum loss over the N draws
      control = new ApgdStepControl(o.steps, o.rho, eps, xAdv, grad, ev.maxLoss);
      const stepSize = control.stepSize;
      let xOld = live.track(xAdv.clone());
      let xRet = live.track(xAdv.clone());
      const wor = Float64Array.from(ev.anyFooled, (f) => (f ? 1 : 0));
      const avg = Float64Array.from(ev.correct, (c) => 1 - c);
      const avgAsr = Float64Array.from(avg);
      const retLoss = Float32Array.from(ev.meanLoss);
      for (let i = 0; i < o.steps; i++) {
        const a = i > 0 ? o.momentum : 1;
        const next = apgdStep(x, xAdv, xOld, grad, stepSize, a, norm, eps);
        xOld = live.swap(xOld, xAdv.clone());
        xAdv = live.swap(xAdv, next);
        ctx.onStep?.({
          attack: `diffhammer-${loss}`,
          restart: runIndex,
          step: i + 1,
          totalSteps: o.steps,
          sampleIndices,
          x,
          xAdv,
          grad,
          loss: ev.meanLoss,
          correctFraction: ev.correct,
          draws: N,
          predictions: ev.pred,
          stepSize: Float32Array.from(stepSize),
        });
        ev.dispose();
        ev = undefined;
        ev = this.evaluateDraws(target, xAdv, y, sampleIndices, loss);
        const cur = ev;
        // The returned point: the last iterate that raised worASR, or raised the mean loss without lowering it.
        const retMask = Array.from({ length: B }, (_, b) => {
          const w = cur.anyFooled[b] ? 1 : 0;
          return w > wor[b] || (w === wor[b] && cur.meanLoss[b] > retLoss[b]);
        });
        if (retMask.some(Boolean)) {
          xRet = live.swap(xRet, selectRows(retMask, xAdv, xRet));
          retMask.forEach((m, b) => {
            if (m) {
              wor[b] = cur.anyFooled[b] ? 1 : 0;
              avg[b] = 1 - cur.correct[b];
              retLoss[b] = cur.meanLoss[b];
            }
          });
        }
        for (let b = 0; b < B; b++) avgAsr[b] = Math.max(avgAsr[b], 1 - cur.correct[b]);
        tick();
        if (i === o.steps - 1) break; // no further step: no gradient needed
        const g = this.graft(target, xAdv, cur).grad;
        // Stepwise averaging: this gradient drives update i + 1 (iteration t = i + 2).
        const w = Math.pow(i + 2, -o.alpha);
        const avgd = tf.tidy(() => tf.add(tf.mul(g, w), tf.mul(grad, 1 - w)) as tf.Tensor4D);
        g.dispose();
        grad = live.swap(grad, avgd);
        const back = control.observe(i, cur.maxLoss, xAdv, grad);
        if (back) {
          xAdv = live.swap(xAdv, back.xAdv);
          grad = live.swap(grad, back.grad);
        }
      }
      live.release(xRet);
      return { xRet, wor, avg, avgAsr };
    } finally {
      ev?.dispose();
      live.dispose();
      control?.dispose();
    }
  }

  describe(): Record<string, unknown> {
    return { id: this.id, ...this.options, eps: this.threat.eps, policy: this.policy };
  }
}
