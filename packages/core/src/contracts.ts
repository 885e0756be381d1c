/**
 * The contracts every plugin implements. Images are NHWC float32 `tf.Tensor4D` in [0, 1];
 * each model does its own input normalisation.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Logger } from './logger';
import type { NoisePolicy } from './noise-policy';

// ------------------------------------------------------------------------------------------------
// Noise

/**
 * A named stream of random draws. A defense draws its forward noise from `forward`, the noise of
 * reverse step `step` from `reverse`, the Brownian increments of an SDE solver from `path`, and the
 * noise of a Langevin corrector from `corrector`. DW-box settings are choices of which streams are keyed.
 */
export type NoiseStreamKind = 'forward' | 'reverse' | 'path' | 'corrector';
export interface NoiseStream {
  readonly kind: NoiseStreamKind;
  /** Step index (timestep value or solver step); 0 for `forward`. */
  readonly step?: number;
}
export const NOISE_STREAM_KINDS: readonly NoiseStreamKind[] = ['forward', 'reverse', 'path', 'corrector'];

/** Which batch row is which (sample index in the dataset, EoT replica index). */
export interface NoiseRow {
  readonly sample: number;
  readonly eot: number;
}

/**
 * Every random draw of a defense goes through a NoiseSource. `shape[0]` must equal the number of
 * rows the source is bound to; row i gets the noise of `rows[i]`.
 */
export interface NoiseSource {
  readonly rows: readonly NoiseRow[];
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor;
  /** The same source bound to other rows (a sub-batch, or the batch expanded for EoT). */
  withRows(rows: readonly NoiseRow[]): NoiseSource;
  /** A short description for logs and leaderboard provenance, e.g. `keyed(seed=0)`. */
  describe(): string;
}

// ------------------------------------------------------------------------------------------------
// Models

/** A differentiable image classifier. Input NHWC in [0,1]; it normalises internally. */
export interface Classifier {
  readonly numClasses: number;
  logits(x: tf.Tensor4D): tf.Tensor2D;
}

/** Something with trainable weights and a train/eval mode (dropout, batch norm). */
export interface Trainable {
  trainableVariables(): tf.Variable[];
  setTraining(training: boolean): void;
}

// ------------------------------------------------------------------------------------------------
// Defenses

/**
 * How an attack differentiates through a defense. `exact`: backprop through purify (the defense must
 * be differentiable and say so); `bpda`: the attack target's BPDA estimator (Athalye et al. 2018,
 * g(x) = x): purify runs forward, the classifier gradient at the purified point is passed back as
 * the input gradient. BPDA is applied by the target for every defense; no defense implements it.
 * `surrogate` (Lee & Kim): the attack differentiates (forward and backward) through a shorter
 * denoising process of the same defense (`Defense.surrogate()`), while the defended process is
 * used for evaluation; a defense offers it by listing it in its capabilities.
 */
export type GradientMode = 'exact' | 'bpda' | 'surrogate';
export const GRADIENT_MODES: readonly GradientMode[] = ['exact', 'bpda', 'surrogate'];

export interface DefenseCapabilities {
  /** True when purify() draws random numbers. */
  readonly stochastic: boolean;
  /** Noise streams the defense draws from (empty for a deterministic defense). */
  readonly streams: readonly NoiseStreamKind[];
  /**
   * Gradients the defense provides itself: `['exact']` when purify() is differentiable, `[]` when it
   * is not; `surrogate` as well when it provides `surrogate()`. `bpda` needs no support from the
   * defense (the target provides it for every defense), so listing it changes nothing;
   * `targetGradientModes` gives what a target offers.
   */
  readonly gradientModes: readonly GradientMode[];
  /** Network evaluations per purification (for the leaderboard's forward-pass count). */
  readonly networkCalls: number;
}

/** Which reverse states enter DiffAttack's L_dev: every one (`all`) or n uniformly spaced ones. */
export interface DeviationOptions {
  readonly steps: 'all' | number;
}

/** What a purify() call may report while it runs (optional on both sides). */
export interface PurifyOptions {
  /**
   * Called after each step of a multi-step purification (the reverse steps of a diffusion chain) with
   * the steps done and the steps in all; `dbp-bench purify` shows it as progress. A defense without
   * steps never calls it.
   */
  readonly onStep?: (done: number, total: number) => void;
}

/** A pre-processing defense: purify(x) then classify. */
export interface Defense {
  readonly id: string;
  readonly capabilities: DefenseCapabilities;
  /**
   * The purified images. With gradient mode `exact` the attack differentiates through this call (so
   * it must be differentiable when the capabilities list `exact`); with `bpda` the target calls it
   * outside the gradient tape and only its value is used.
   */
  purify(x: tf.Tensor4D, noise: NoiseSource, options?: PurifyOptions): tf.Tensor4D;
  /** Gradient mode of a target created on this defense without one (default `exact`). */
  readonly defaultGradient?: GradientMode;
  /**
   * The defense's surrogate for gradient mode `surrogate` (required when the capabilities list it):
   * a differentiable twin with a shorter denoising process (same weights, strength and sampler
   * options; ALGORITHMS.md §14.3). The defense owns it (one instance, disposed with the defense).
   */
  surrogate?(): Defense;
  /**
   * DiffAttack's deviated-reconstruction term with the purification (ALGORITHMS.md §14.2), for exact
   * gradients: the purified images and, per row, L_dev = mean over the selected reverse states x'_t of
   * the MSE (pixels in [-1, 1]) between x'_t and the forward-noised x_t = sqrt(abar_t) x0 +
   * sqrt(1 - abar_t) eps_f built with the purification's own forward draw. Differentiable in x.
   */
  purifyWithDeviation?(x: tf.Tensor4D, noise: NoiseSource, options: DeviationOptions): { purified: tf.Tensor4D; deviation: tf.Tensor1D };
  /** Release weights and caches. */
  dispose?(): void;
}

// ------------------------------------------------------------------------------------------------
// Attacks

export type Norm = 'linf' | 'l2';
export const NORMS: readonly Norm[] = ['linf', 'l2'];
export interface ThreatModel {
  readonly norm: Norm;
  /** Budget in [0,1] pixel units. */
  readonly eps: number;
}

/**
 * What an attack attacks: classifier ∘ defense, with a noise policy. `logits(x, rows)` runs one
 * purification per row with the noise the policy gives for those rows, differentiable with the
 * target's gradient mode (the framework's PolicyTarget is the implementation).
 */
export interface AttackTarget {
  readonly classifier: Classifier;
  readonly defense: Defense;
  readonly gradient: GradientMode;
  /** The noise source used for a call: keyed streams stay fixed across calls, the others are fresh. */
  noise(rows: readonly NoiseRow[]): NoiseSource;
  logits(x: tf.Tensor4D, rows: readonly NoiseRow[]): tf.Tensor2D;
}

export interface AttackContext {
  readonly logger: Logger;
  /** Dataset indices of the batch rows, for keyed noise. */
  readonly sampleIndices: readonly number[];
  readonly seed: number;
  /**
   * How the caller names this attack (a run config's attack `name`, e.g. "PGD-5+EoT-2"): the attack
   * labels its progress bar with it. Absent: a label of its own (id, norm and budget).
   */
  readonly label?: string;
  /**
   * Where an attack reports what it saw on each row (see AttackDiagnostics), once per perturb() call,
   * before it returns. Optional on both sides: the benchmark runner passes one and records "not
   * reported" for attacks that never call it.
   */
  readonly reportDiagnostics?: (diagnostics: AttackDiagnostics) => void;
}

/**
 * Per-row diagnostics of one perturb() call, computed from what the attack has anyway (no second
 * pass). The runner uses them to refuse reporting a stalled attack as robustness (docs/RUNNER.md).
 */
export interface AttackDiagnostics {
  /**
   * One entry per row of x: true when the input gradient of the attack's first gradient evaluation on
   * that row was all zero or had a non-finite entry (the attack could not move the row: masked or
   * broken gradients); false when it was usable; null when the attack evaluated no gradient for it.
   */
  readonly gradientVanished: readonly (boolean | null)[];
  /**
   * One entry per row: the attack returned the clean input on purpose because none of its iterates did
   * better (e.g. APGD's Fixed-AutoAttack selection), so a zero perturbation there is no stall.
   */
  readonly keptClean?: readonly boolean[];
  /**
   * Size of one step in the attack's norm (PGD's alpha); the runner counts a row that stays robust
   * with a perturbation below min(step, eps) as stalled. Omit for attacks without a fixed step: then
   * only a zero perturbation counts.
   */
  readonly stepSize?: number;
}

/**
 * The evaluation protocol an attack declares (`Attack.protocol()`). The benchmark runner reads an
 * attack only through it (with `threat`): it builds the attack's target from `policy` and `gradient`,
 * records policy, EoT, steps and gradient in the entry, and checks the declaration before the first
 * batch (docs/RUNNER.md, "Attack protocol").
 */
export interface AttackProtocol {
  /**
   * Noise policy of the target the attack runs on, which the final evaluation reuses: `fresh`
   * (white-box: every draw fresh), or a DW-box policy keying the `forward` streams (`fwd`), the
   * reverse/path/corrector streams (`rev`) or all of them (`both`). A policy other than `fresh` means
   * the attack needs keyed noise.
   */
  readonly policy: NoisePolicy;
  /** EoT replicas per gradient estimate (a positive integer; 1: no expectation over transformation). */
  readonly eotSamples: number;
  /** Iterations per run (a positive integer), or null for an attack without an iteration count. */
  readonly steps: number | null;
  /** Runs per sample (random restarts; APGD: per loss), a positive integer; 1 without restarts. */
  readonly restarts: number;
  /**
   * Runs per sample in all, when that is not `restarts` (APGD: restarts x losses); optional, default
   * `restarts`. The plan before a run (`dbp-bench run --dry-run`) counts steps x runs gradient
   * estimates per sample.
   */
  readonly runs?: number;
  /**
   * Gradient estimator through the defense: `exact` (backpropagation through purification), `bpda`
   * (identity backward), or `target` (whatever mode the target has; the runner gives it the defense's
   * exact mode when supported, else its first one).
   */
  readonly gradient: GradientMode | 'target';
  /** Size of one step in the attack's norm (the runner's stall check), or null without a fixed step. */
  readonly stepSize: number | null;
  /** What the attack needs from its target. */
  readonly requires: {
    /** Input gradients of the target's logits (a gradient-based attack): the runner checks they are not all zero. */
    readonly inputGradients: boolean;
  };
}

export interface Attack {
  readonly id: string;
  readonly threat: ThreatModel;
  /** The attack's protocol (noise policy, EoT, steps, restarts, gradient estimator, step, requirements). */
  protocol(): AttackProtocol;
  perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D>;
}

// ------------------------------------------------------------------------------------------------
// Datasets

export interface DatasetInfo {
  readonly id: string;
  /** Split name (`test`, `train`, `val`). */
  readonly split: string;
  readonly size: number;
  /** [height, width, channels] */
  readonly shape: readonly [number, number, number];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Where the data came from (file paths or package), for provenance. */
  readonly source: string;
}

export interface Batch {
  /** NHWC float32 in [0,1]. */
  readonly images: tf.Tensor4D;
  readonly labels: Int32Array;
  /** Dataset indices of the rows. */
  readonly indices: readonly number[];
}

/**
 * Which images of a dataset: the first n (from an offset), an explicit index list, a seeded random
 * draw, a seeded stratified draw, or all (`selectSubset` in @dbp-bench/datasets).
 */
export type SubsetSpec =
  | { kind: 'first'; n: number; offset?: number }
  | { kind: 'indices'; indices: number[] }
  | { kind: 'random'; n: number; seed: number }
  | { kind: 'stratified'; n: number; seed: number }
  | { kind: 'all' };

export interface Dataset {
  readonly info: DatasetInfo;
  /** Images and labels of the given indices, in that order. */
  get(indices: readonly number[]): Promise<Batch>;
  /** Labels only (fast, no decoding). */
  labels(indices: readonly number[]): Promise<Int32Array>;
  /**
   * Optional: the same labels synchronously, for datasets that hold them in memory (every built-in
   * one does). Synchronous subset selection of kind `stratified` needs it.
   */
  labelsSync?(indices: readonly number[]): Int32Array;
}

// ------------------------------------------------------------------------------------------------
// Trainers

export interface TrainContext {
  /** Directory for checkpoints, the loss log and the loss curve. */
  readonly outDir: string;
  readonly logger: Logger;
  /** Resume from the newest checkpoint in outDir when present (default true). */
  readonly resume?: boolean;
  /** Stop after this many steps in this process (for tests of resume); the run can be resumed. */
  readonly stopAfterSteps?: number;
}

export interface TrainResult {
  /** Path of the final weights (safetensors). */
  readonly weights: string;
  readonly steps: number;
  /** True when the run stopped early (stopAfterSteps) and can be resumed. */
  readonly partial: boolean;
  readonly finalLoss: number;
}

export interface Trainer {
  readonly id: string;
  train(ctx: TrainContext): Promise<TrainResult>;
}

// ------------------------------------------------------------------------------------------------
// Diffusion models

/**
 * An epsilon-prediction diffusion network. `x` is NHWC in diffusion space [-1, 1]; `t` holds one
 * model time input per row (the integer timestep 0..999 for DDPM/DDIM, or `999 * t` for VP-SDE).
 */
export interface EpsModel {
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D;
}
