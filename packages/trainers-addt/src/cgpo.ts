/**
 * ADDT (ALGORITHMS.md §8): the mixing coefficient gamma_t, CGPO (Classifier-Guided Perturbation
 * Optimization) with RBGM, the two ablations of the paper, and the training losses.
 *
 * All tensors are NHWC; x0 is in diffusion space [-1, 1]. Per-sample coefficients are [B,1,1,1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError, ascend, meanCrossEntropy, projectBall, type Classifier, type EpsModel } from '@dbp-bench/framework';
import { rbgm } from './rbgm';

// ------------------------------------------------------------------------------------------------
// gamma_t (§8.1)

export interface GammaOptions {
  /** x0-space std of the adversarial component: gamma = scale * sqrt(abar / (1 - abar)) (0.03). */
  readonly scale: number;
  /** Upper clip of gamma (0.3). */
  readonly max: number;
}
export const GAMMA_DEFAULTS: GammaOptions = { scale: 0.03, max: 0.3 };

/** gamma_t = clip(scale * sqrt(abar_t) / sqrt(1 - abar_t), 0, max) = clip(scale / sigma_t, 0, max). */
export function gammaFromAbar(abar: number, o: GammaOptions = GAMMA_DEFAULTS): number {
  const g = o.scale * Math.sqrt(abar / (1 - abar));
  return Math.min(o.max, Math.max(0, g));
}

/** gamma_t for every timestep of a schedule. */
export function gammaSchedule(alphasCumprod: ArrayLike<number>, o: GammaOptions = GAMMA_DEFAULTS): Float64Array {
  return Float64Array.from({ length: alphasCumprod.length }, (_, t) => gammaFromAbar(alphasCumprod[t], o));
}

/** r_t = clip(sqrt(abar_t) / sqrt(1 - abar_t), 0, rMax): the eps-space scale of an x0-space delta (ablation without RBGM). */
export function rFromAbar(abar: number, rMax: number): number {
  return Math.min(rMax, Math.max(0, Math.sqrt(abar / (1 - abar))));
}

// ------------------------------------------------------------------------------------------------
// Per-sample coefficients

/** Per-sample noising coefficients for timesteps `t` (each [B,1,1,1] float32). */
export interface Coefs {
  readonly t: tf.Tensor1D;
  readonly sqrtA: tf.Tensor4D;
  readonly sqrt1mA: tf.Tensor4D;
  /** gamma_t */
  readonly gamma: tf.Tensor4D;
  /** sqrt(1 - gamma_t^2) */
  readonly sqrt1mG2: tf.Tensor4D;
  /** r_t (ablation without RBGM) */
  readonly r: tf.Tensor4D;
}

/** Build the coefficients of integer timesteps `t` from a schedule (values in float64, cast once to float32). */
export function coefsFor(t: ArrayLike<number>, alphasCumprod: ArrayLike<number>, gamma: GammaOptions = GAMMA_DEFAULTS, rMax = 10): Coefs {
  const b = t.length;
  const col = (f: (a: number) => number): tf.Tensor4D =>
    tf.tensor4d(
      Float32Array.from({ length: b }, (_, i) => f(alphasCumprod[t[i]])),
      [b, 1, 1, 1],
    );
  for (let i = 0; i < b; i++) {
    if (!(Number.isInteger(t[i]) && t[i] >= 0 && t[i] < alphasCumprod.length))
      throw new DbpError('E_ASSERT', `timestep ${t[i]} is outside 0..${alphasCumprod.length - 1}`);
  }
  return {
    t: tf.tensor1d(Float32Array.from(t), 'float32'),
    sqrtA: col((a) => Math.sqrt(a)),
    sqrt1mA: col((a) => Math.sqrt(1 - a)),
    gamma: col((a) => gammaFromAbar(a, gamma)),
    sqrt1mG2: col((a) => Math.sqrt(1 - gammaFromAbar(a, gamma) ** 2)),
    r: col((a) => rFromAbar(a, rMax)),
  };
}

export function disposeCoefs(c: Coefs): void {
  for (const v of Object.values(c)) (v as tf.Tensor).dispose();
}

// ------------------------------------------------------------------------------------------------
// Forward process and losses

/** x_t = sqrt(abar) x0 + sqrt(1 - abar) e */
export function noised(x0: tf.Tensor4D, e: tf.Tensor4D, c: Coefs): tf.Tensor4D {
  return tf.add(tf.mul(c.sqrtA, x0), tf.mul(c.sqrt1mA, e)) as tf.Tensor4D;
}

/** eps' = sqrt(1 - gamma^2) eps + gamma eps_delta */
export function mixedNoise(eps: tf.Tensor4D, epsDelta: tf.Tensor4D, c: Pick<Coefs, 'gamma' | 'sqrt1mG2'>): tf.Tensor4D {
  return tf.add(tf.mul(c.sqrt1mG2, eps), tf.mul(c.gamma, epsDelta)) as tf.Tensor4D;
}

/** One-step Tweedie estimate x0_hat = (x_t - sqrt(1 - abar) e_hat) / sqrt(abar), no clipping. */
export function x0Estimate(xt: tf.Tensor4D, eHat: tf.Tensor4D, c: Coefs): tf.Tensor4D {
  return tf.div(tf.sub(xt, tf.mul(c.sqrt1mA, eHat)), c.sqrtA) as tf.Tensor4D;
}

/** The DDPM loss mean((eps_theta(x_t, t) - eps)^2) with x_t = sqrt(abar) x0 + sqrt(1-abar) eps. */
export function ddpmLoss(model: EpsModel, x0: tf.Tensor4D, eps: tf.Tensor4D, c: Coefs): tf.Scalar {
  return denoisingLoss(model, x0, eps, c);
}

/** mean((eps_theta(x_t, t) - target)^2) with x_t = sqrt(abar) x0 + sqrt(1-abar) target. */
export function denoisingLoss(model: EpsModel, x0: tf.Tensor4D, target: tf.Tensor4D, c: Coefs): tf.Scalar {
  const xt = noised(x0, target, c);
  return tf.mean(tf.squaredDifference(model.predictEps(xt, c.t), target)) as tf.Scalar;
}

/** The ADDT training loss: target eps' = sqrt(1 - gamma^2) eps + gamma eps_delta (§8.3 training step). */
export function addtLoss(model: EpsModel, x0: tf.Tensor4D, eps: tf.Tensor4D, epsDelta: tf.Tensor4D, c: Coefs): tf.Scalar {
  return denoisingLoss(model, x0, mixedNoise(eps, epsDelta, c), c);
}

/** Mean cross-entropy of the classifier on x0_hat mapped to [0,1] (x/2 + 0.5, not clamped; the classifier normalises). */
export function classifierLossOnX0(classifier: Classifier, x0Hat: tf.Tensor4D, labels: tf.Tensor1D): tf.Scalar {
  return meanCrossEntropy(classifier.logits(tf.add(tf.mul(x0Hat, 0.5), 0.5) as tf.Tensor4D), labels);
}

// ------------------------------------------------------------------------------------------------
// CGPO (§8.3) and the ablations (§8.5)

export type Ablation = 'none' | 'no-rbgm' | 'no-guidance';

/** Standard normal draws of x0's shape, by CGPO iteration and purpose (all randomness of CGPO). */
export type NoiseFn = (iteration: number, purpose: 'init' | 'eps' | 'rbgm') => tf.Tensor4D;

export interface CgpoInputs {
  readonly model: EpsModel;
  /** Frozen classifier (eval mode); not needed for the `no-guidance` objective. */
  readonly classifier?: Classifier;
  readonly x0: tf.Tensor4D;
  readonly labels: tf.Tensor1D;
  readonly coefs: Coefs;
  /** K, the number of CGPO iterations (5 in the paper's code). */
  readonly iterations: number;
  /** `ce`: ascend the classifier's CE on x0_hat (ADDT); `denoise`: ascend mean((e_hat - eps)^2) (ablation without classifier guidance). */
  readonly objective: 'ce' | 'denoise';
  readonly noise: NoiseFn;
  /** Called with every per-iteration gradient (tests; the tensor is disposed after the call). */
  readonly onGradient?: (iteration: number, grad: tf.Tensor4D) => void;
}

export interface CgpoResult {
  /** The final mapped perturbation RBGM(G_K) (an exact permutation of Gaussian samples per row). */
  readonly epsDelta: tf.Tensor4D;
  /** The accumulated gradient G_K = sum of the K per-iteration gradients. */
  readonly G: tf.Tensor4D;
  /** The objective at the last iteration (before its update). */
  readonly lastObjective: number;
  /** Gradient evaluations performed (= iterations). */
  readonly gradientEvaluations: number;
}

/**
 * CGPO: eps_delta_0 ~ N(0, I); G = 0; K times: fresh eps, x_t with eps' = sqrt(1-g^2) eps + g eps_delta,
 * x0_hat from the model's one-step estimate, G += d objective / d eps_delta, eps_delta = RBGM(G).
 * G is accumulated, never reset. Gradients are taken w.r.t. eps_delta only.
 */
export function cgpo(inp: CgpoInputs): CgpoResult {
  const { model, x0, coefs: c } = inp;
  if (inp.objective === 'ce' && !inp.classifier) throw new DbpError('E_ASSERT', 'cgpo: the ce objective needs a classifier');
  let epsDelta = inp.noise(0, 'init');
  let G: tf.Tensor4D = tf.zerosLike(x0);
  let last = NaN;
  let evals = 0;
  for (let k = 0; k < inp.iterations; k++) {
    const eps = inp.noise(k, 'eps');
    const objective = (ed: tf.Tensor): tf.Scalar => {
      const xt = noised(x0, mixedNoise(eps, ed as tf.Tensor4D, c), c);
      const eHat = model.predictEps(xt, c.t);
      if (inp.objective === 'denoise') return tf.mean(tf.squaredDifference(eHat, eps)) as tf.Scalar;
      return classifierLossOnX0(inp.classifier!, x0Estimate(xt, eHat, c), inp.labels);
    };
    const { value, grad } = tf.tidy(() => tf.valueAndGrad(objective)(epsDelta));
    evals++;
    last = value.dataSync()[0];
    value.dispose();
    eps.dispose();
    inp.onGradient?.(k, grad as tf.Tensor4D);
    const nextG = tf.add(G, grad) as tf.Tensor4D;
    grad.dispose();
    G.dispose();
    G = nextG;
    const z = inp.noise(k, 'rbgm');
    epsDelta.dispose();
    epsDelta = rbgm(G, z);
    z.dispose();
  }
  return { epsDelta, G, lastObjective: last, gradientEvaluations: evals };
}

export interface X0PgdOptions {
  /** l_inf budget in [0,1] pixel units (8/255); doubled in [-1,1] diffusion space. */
  readonly eps: number;
  /** Step size in [0,1] pixel units (4/255). */
  readonly stepSize: number;
  /** Clip of r_t = sqrt(abar)/sqrt(1-abar) (10). */
  readonly rMax: number;
}
export const X0_PGD_DEFAULTS: X0PgdOptions = { eps: 8 / 255, stepSize: 4 / 255, rMax: 10 };

/**
 * Ablation without RBGM (train_ADDT_linf.py): delta = 0, K sign-gradient PGD steps in x0 space on the
 * classifier's CE with a fresh eps each step (no accumulation), l_inf budget, x0 + delta in [-1, 1];
 * x_t = sqrt(abar) x0 + sqrt(1-abar) (eps + r_t delta). Returns delta (in [-1,1] units).
 */
export function x0Pgd(inp: Omit<CgpoInputs, 'objective' | 'onGradient'> & { readonly options: X0PgdOptions }): {
  delta: tf.Tensor4D;
  lastObjective: number;
  gradientEvaluations: number;
} {
  const { model, x0, coefs: c } = inp;
  if (!inp.classifier) throw new DbpError('E_ASSERT', 'x0Pgd: needs a classifier');
  const eps2 = 2 * inp.options.eps;
  const step2 = 2 * inp.options.stepSize;
  let delta: tf.Tensor4D = tf.zerosLike(x0);
  let last = NaN;
  let evals = 0;
  for (let k = 0; k < inp.iterations; k++) {
    const eps = inp.noise(k, 'eps');
    const objective = (d: tf.Tensor): tf.Scalar => {
      const xt = noised(x0, tf.add(eps, tf.mul(c.r, d)) as tf.Tensor4D, c);
      return classifierLossOnX0(inp.classifier!, x0Estimate(xt, model.predictEps(xt, c.t), c), inp.labels);
    };
    const next = tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad(objective)(delta);
      last = value.dataSync()[0];
      // the l_inf sign step and ball projection of the threat geometry, in [-1,1] units
      const d = projectBall(ascend(delta, grad as tf.Tensor4D, 'linf', step2), 'linf', eps2);
      return tf.sub(tf.clipByValue(tf.add(x0, d), -1, 1), x0) as tf.Tensor4D;
    });
    evals++;
    eps.dispose();
    delta.dispose();
    delta = next;
  }
  return { delta, lastObjective: last, gradientEvaluations: evals };
}
