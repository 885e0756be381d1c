/**
 * DDIM step (Song et al. 2021, https://arxiv.org/abs/2010.02502, formula (12)), as implemented by
 * diffusers 0.21 `DDIMScheduler.step`: epsilon prediction, x0 clipping, `eta` for the stochastic
 * variant, `set_alpha_to_one`, "leading" spacing, `use_clipped_model_output = false`.
 *
 * Config-frozen; `setTimesteps(N)` is the only mutable state; `step()` is pure and takes its noise
 * as an argument (only needed when eta > 0).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';
import { alphasCumprod, leadingTimesteps, linearBetas, strengthTimesteps, type SchedulePrecision } from './schedule';
import type { SchedulerStepOutput } from './ddpm-scheduler';

export interface DdimSchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  /** abar_prev of the last step: 1 (true, diffusers default) or abar_0. */
  readonly setAlphaToOne: boolean;
  readonly precision: SchedulePrecision;
}

export const DDIM_SCHEDULER_DEFAULTS: DdimSchedulerConfig = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  clipSample: true,
  clipSampleRange: 1,
  setAlphaToOne: true,
  precision: 'float64',
});

export interface DdimStepCoefficients {
  readonly t: number;
  readonly prevT: number;
  readonly alphaProdT: number;
  readonly alphaProdPrev: number;
  /** sigma_t = eta * sqrt((1 - abar_prev)/(1 - abar_t) * (1 - abar_t/abar_prev)). */
  readonly stdDev: number;
  /** Coefficient of eps in the "direction pointing to x_t": sqrt(1 - abar_prev - sigma_t^2). */
  readonly coefEps: number;
}

export class DDIMScheduler {
  readonly config: Readonly<DdimSchedulerConfig>;
  readonly betas: Float64Array;
  readonly alphasCumprod: Float64Array;
  /** abar used when prev < 0. */
  readonly finalAlphaCumprod: number;
  private numInferenceSteps_: number;
  private timesteps_: Int32Array;

  constructor(config: Partial<DdimSchedulerConfig> = {}) {
    this.config = Object.freeze({ ...DDIM_SCHEDULER_DEFAULTS, ...config });
    const c = this.config;
    this.betas = linearBetas(c.numTrainTimesteps, c.betaStart, c.betaEnd, c.precision);
    this.alphasCumprod = alphasCumprod(this.betas, c.precision);
    this.finalAlphaCumprod = c.setAlphaToOne ? 1 : this.alphasCumprod[0];
    this.numInferenceSteps_ = c.numTrainTimesteps;
    this.timesteps_ = leadingTimesteps(c.numTrainTimesteps, c.numTrainTimesteps);
  }

  get numInferenceSteps(): number {
    return this.numInferenceSteps_;
  }

  get timesteps(): Int32Array {
    return this.timesteps_.slice();
  }

  setTimesteps(numInferenceSteps: number): this {
    this.timesteps_ = leadingTimesteps(this.config.numTrainTimesteps, numInferenceSteps);
    this.numInferenceSteps_ = numInferenceSteps;
    return this;
  }

  /** The ADDT purification list (N = 100, strength 0.1 -> [100, 90, ..., 0]). */
  purificationTimesteps(strength: number): Int32Array {
    return strengthTimesteps(this.timesteps_, strength);
  }

  previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps_);
  }

  stepCoefficients(t: number, eta = 0): DdimStepCoefficients {
    if (!Number.isInteger(t) || t < 0 || t >= this.config.numTrainTimesteps) {
      throw new DbpError('E_ASSERT', `DDIMScheduler: timestep must be an integer in [0, ${this.config.numTrainTimesteps - 1}], got ${t}`);
    }
    if (!(eta >= 0)) throw new DbpError('E_ASSERT', `DDIMScheduler: eta must be >= 0, got ${eta}`);
    // 1. previous step
    const prevT = this.previousTimestep(t);
    // 2. alphas, betas
    const alphaProdT = this.alphasCumprod[t];
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : this.finalAlphaCumprod;
    // 5. variance sigma_t(eta), formula (16)
    const variance = ((1 - alphaProdPrev) / (1 - alphaProdT)) * (1 - alphaProdT / alphaProdPrev);
    const stdDev = eta * Math.sqrt(Math.max(variance, 0));
    // 6. direction pointing to x_t
    const coefEps = Math.sqrt(Math.max(1 - alphaProdPrev - stdDev * stdDev, 0));
    return { t, prevT, alphaProdT, alphaProdPrev, stdDev, coefEps };
  }

  /** One DDIM step x_t -> x_prev; `z` (standard normal) is required when eta > 0 and sigma_t > 0. */
  step(eps: tf.Tensor4D, t: number, sample: tf.Tensor4D, eta = 0, z?: tf.Tensor): SchedulerStepOutput {
    const k = this.stepCoefficients(t, eta);
    if (k.stdDev > 0 && !z) {
      throw new DbpError('E_ASSERT', `DDIMScheduler.step(t=${t}, eta=${eta}): the step adds noise but no noise tensor was given`);
    }
    return tf.tidy(() => {
      // 3. predicted x0
      let x0 = tf.div(tf.sub(sample, tf.mul(eps, Math.sqrt(1 - k.alphaProdT))), Math.sqrt(k.alphaProdT)) as tf.Tensor4D;
      // 4. clip x0 (use_clipped_model_output = false: eps is not recomputed)
      if (this.config.clipSample) x0 = tf.clipByValue(x0, -this.config.clipSampleRange, this.config.clipSampleRange);
      // 7. x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps (+ sigma z)
      let prev = tf.add(tf.mul(x0, Math.sqrt(k.alphaProdPrev)), tf.mul(eps, k.coefEps)) as tf.Tensor4D;
      if (k.stdDev > 0 && z) prev = tf.add(prev, tf.mul(z, k.stdDev));
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }

  /** Forward process x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise for one timestep. */
  addNoise(x0: tf.Tensor4D, noise: tf.Tensor4D, t: number): tf.Tensor4D {
    const a = this.alphasCumprod[t];
    if (a === undefined || !Number.isInteger(t)) throw new DbpError('E_ASSERT', `DDIMScheduler.addNoise: bad timestep ${t}`);
    return tf.tidy(() => tf.add(tf.mul(x0, Math.sqrt(a)), tf.mul(noise, Math.sqrt(1 - a))) as tf.Tensor4D);
  }
}
