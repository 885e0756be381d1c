/**
 * The VP-SDE of score-based models (Song et al. 2021, https://arxiv.org/abs/2011.13456):
 * dx = -1/2 beta(t) x dt + sqrt(beta(t)) dW, beta(t) = beta_min + t (beta_max - beta_min), t in [0, 1],
 * with the two reverse-time discretisations used for DiffPure-style purification:
 *
 * - `addt`: the ADDT repository's diffusers `ScoreSdeVpScheduler` loop — times
 *   `linspace(1, 1e-3, N)[round((1 - t*) N) - 1:]` (N = 1000, t* = 0.1: 0.101, 0.100, ..., 0.001),
 *   Euler–Maruyama predictor with dt = -1/N (`step_pred`), optional one-step Langevin corrector
 *   (`step_correct`, snr 0.16), output the last predictor mean.
 * - `diffpure-original`: NVlabs/DiffPure — forward noise at the discrete abar[t-1] (t = round(1000 t*)),
 *   then torchsde Euler with dt = 1e-3 on reversed time t' in [1 - t/1000, 1 - 1e-5] (100 steps for
 *   t* = 0.1, the last one 0.00099), output the final state (no denoising step).
 *
 * The eps-network's score: score(x, t) = -eps(x, 999 t) / s(t), s(t) = sqrt(1 - abar(t)).
 * All coefficients are float64 numbers; tensor updates are pure functions of their inputs and noise.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';
import { alphasCumprod, linearBetas, linspace, strengthStartIndex } from './schedule';

export interface VpSdeConfig {
  readonly betaMin: number;
  readonly betaMax: number;
  /** Smallest time of the sampling grid (diffusers `sampling_eps`, 1e-3). */
  readonly samplingEps: number;
  /** The network's time input is `timeScale * t` (score_sde continuous VP: 999). */
  readonly timeScale: number;
}

export const VP_SDE_DEFAULTS: VpSdeConfig = Object.freeze({ betaMin: 0.1, betaMax: 20, samplingEps: 1e-3, timeScale: 999 });

/** One time point of a reverse discretisation. */
export interface VpStep {
  /** Diffusion time t in [0, 1] at which the drift is evaluated. */
  readonly t: number;
  /** Step length h > 0 (|dt|). */
  readonly h: number;
}

export class VPSDE {
  readonly config: Readonly<VpSdeConfig>;

  constructor(config: Partial<VpSdeConfig> = {}) {
    this.config = Object.freeze({ ...VP_SDE_DEFAULTS, ...config });
  }

  /** beta(t) = beta_min + t (beta_max - beta_min). */
  beta(t: number): number {
    return this.config.betaMin + t * (this.config.betaMax - this.config.betaMin);
  }

  /** log m(t) = -1/4 t^2 (beta_max - beta_min) - 1/2 t beta_min. */
  logMeanCoeff(t: number): number {
    return -0.25 * t * t * (this.config.betaMax - this.config.betaMin) - 0.5 * t * this.config.betaMin;
  }

  /** Continuous abar(t) = m(t)^2. */
  alphaBar(t: number): number {
    return Math.exp(2 * this.logMeanCoeff(t));
  }

  /** Marginal std s(t) = sqrt(1 - abar(t)). */
  marginalStd(t: number): number {
    return Math.sqrt(1 - this.alphaBar(t));
  }

  /** The discrete betas of an N-step discretisation: linspace(beta_min/N, beta_max/N, N) (N = 1000 gives the DDPM betas). */
  discreteBetas(n = 1000): Float64Array {
    return linspace(this.config.betaMin / n, this.config.betaMax / n, n);
  }

  /** DiffPure's discrete abar table `cumprod(1 - discrete_betas)`, i.e. the DDPM alphas_cumprod. */
  discreteAlphasCumprod(n = 1000): Float64Array {
    return alphasCumprod(linearBetas(n, this.config.betaMin / n, this.config.betaMax / n));
  }

  /** diffusers ScoreSdeVpScheduler.set_timesteps(N): linspace(1, samplingEps, N). */
  timesteps(n: number): Float64Array {
    if (!Number.isInteger(n) || n < 2) throw new DbpError('E_ASSERT', `VPSDE: the schedule length must be an integer >= 2, got ${n}`);
    return linspace(1, this.config.samplingEps, n);
  }

  /**
   * The ADDT reverse grid: `timesteps(N)[round((1 - strength) N) - 1:]`, each step of length 1/N
   * (N = 1000, strength 0.1: 101 times 0.101 .. 0.001, dt = -1e-3).
   */
  addtSteps(strength: number, n = 1000): VpStep[] {
    const ts = this.timesteps(n);
    const k = strengthStartIndex(strength, n);
    return Array.from(ts.slice(k), (t) => ({ t, h: 1 / n }));
  }

  /**
   * The DiffPure-original grid: t = round(1000 strength) (DiffPure's integer `--t`), forward noise at
   * discrete abar[t-1], then torchsde Euler steps of `dt` on reversed time t' from 1 - t/1000 to
   * 1 - 1e-5 (curr_t accumulates `+ dt`; the last step is clipped to the end). Drift times are 1 - t'.
   */
  diffpureOriginalSteps(strength: number, dt = 1e-3, tEnd = 1e-5): { tIndex: number; forwardAlphaBar: number; steps: VpStep[] } {
    const tInt = Math.round(strength * 1000);
    if (!(tInt >= 1 && tInt <= 1000)) {
      throw new DbpError('E_ASSERT', `diffpure-original: strength ${strength} gives --t ${tInt}; expected an integer t in [1, 1000]`);
    }
    if (!(dt > 0)) throw new DbpError('E_ASSERT', `diffpure-original: dt must be > 0, got ${dt}`);
    const abar = this.discreteAlphasCumprod(1000);
    const t0 = 1 - tInt / 1000;
    const t1 = 1 - tEnd;
    const steps: VpStep[] = [];
    let curr = t0;
    while (curr < t1) {
      const next = Math.min(curr + dt, t1);
      steps.push({ t: 1 - curr, h: next - curr });
      curr = next;
    }
    return { tIndex: tInt - 1, forwardAlphaBar: abar[tInt - 1], steps };
  }

  /** Forward marginal x_t = m(t) x0 + s(t) noise (continuous, as the ADDT VP files do). */
  addNoise(x0: tf.Tensor4D, noise: tf.Tensor4D, t: number): tf.Tensor4D {
    const m = Math.exp(this.logMeanCoeff(t));
    const s = this.marginalStd(t);
    return tf.tidy(() => tf.add(tf.mul(x0, m), tf.mul(noise, s)) as tf.Tensor4D);
  }

  /**
   * Euler–Maruyama predictor (diffusers `step_pred`): score = -eps / s(t);
   * x_mean = x + (-1/2 beta x - beta score)(-h); x = x_mean + sqrt(beta h) z.
   * Without `z` the returned sample equals the mean.
   */
  predictorStep(eps: tf.Tensor4D, step: VpStep, x: tf.Tensor4D, z?: tf.Tensor): { sample: tf.Tensor4D; mean: tf.Tensor4D } {
    const b = this.beta(step.t);
    const s = this.marginalStd(step.t);
    // x_mean = x (1 + 1/2 beta h) - (beta h / s) eps
    const cx = 1 + 0.5 * b * step.h;
    const ce = (b * step.h) / s;
    const cz = Math.sqrt(b * step.h);
    return tf.tidy(() => {
      const mean = tf.sub(tf.mul(x, cx), tf.mul(eps, ce)) as tf.Tensor4D;
      const sample = z ? (tf.add(mean, tf.mul(z, cz)) as tf.Tensor4D) : mean.clone();
      return { sample, mean };
    });
  }

  /**
   * One Langevin corrector step (score_sde LangevinCorrector, ADDT `step_correct`): with
   * score = -eps / s(t) and per-sample norms, step = 2 alpha (snr ||z|| / ||score||)^2,
   * x = x + step score + sqrt(2 step) z. `alpha` is 1 - beta_i of the N-step discretisation at
   * i = floor((N - 1) t), as in the ADDT code.
   */
  correctorStep(eps: tf.Tensor4D, t: number, x: tf.Tensor4D, z: tf.Tensor, snr = 0.16, n = 1000): tf.Tensor4D {
    const betas = this.discreteBetas(n);
    const idx = Math.min(Math.max(Math.floor((n - 1) * t), 0), n - 1);
    const alpha = 1 - betas[idx];
    const s = this.marginalStd(t);
    return tf.tidy(() => {
      const b = x.shape[0];
      const score = tf.div(eps, -s) as tf.Tensor4D;
      const gradNorm = tf.norm(tf.reshape(score, [b, -1]), 'euclidean', 1);
      const noiseNorm = tf.norm(tf.reshape(z, [b, -1]), 'euclidean', 1);
      const stepSize = tf.reshape(tf.mul(tf.square(tf.div(tf.mul(noiseNorm, snr), gradNorm)), 2 * alpha), [b, 1, 1, 1]);
      return tf.add(tf.add(x, tf.mul(stepSize, score)), tf.mul(tf.sqrt(tf.mul(stepSize, 2)), z)) as tf.Tensor4D;
    });
  }

  /**
   * One torchsde Euler step of DiffPure's RevVPSDE in reversed time (drift time t = 1 - t'):
   * x <- x + h (1/2 beta x + beta score) + sqrt(beta h) z, score = -eps / s(t).
   * This is the same update as predictorStep (the reverse SDE is the same); kept separate for clarity.
   */
  reverseEulerStep(eps: tf.Tensor4D, step: VpStep, x: tf.Tensor4D, z: tf.Tensor): tf.Tensor4D {
    return tf.tidy(() => {
      const { sample, mean } = this.predictorStep(eps, step, x, z);
      mean.dispose();
      return sample;
    });
  }

  /** The network time input for diffusion time t: timeScale * t (999 t). */
  modelTime(t: number): number {
    return this.config.timeScale * t;
  }
}
