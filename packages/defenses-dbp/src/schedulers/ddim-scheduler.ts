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
import { DiscreteScheduler, type DiscreteSchedulerConfig } from './discrete-scheduler';
import type { SchedulerStepOutput } from './ddpm-scheduler';

export interface DdimSchedulerConfig extends DiscreteSchedulerConfig {
  /** abar_prev of the last step: 1 (true, diffusers default) or abar_0. */
  readonly setAlphaToOne: boolean;
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

export class DDIMScheduler extends DiscreteScheduler<DdimSchedulerConfig> {
  /** abar used when prev < 0. */
  readonly finalAlphaCumprod: number;

  constructor(config: Partial<DdimSchedulerConfig> = {}) {
    super({ ...DDIM_SCHEDULER_DEFAULTS, ...config }, 'DDIMScheduler');
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.alphasCumprod[0];
  }

  stepCoefficients(t: number, eta = 0): DdimStepCoefficients {
    this.checkT(t);
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
      // 3.-4. predicted x0, clipped (use_clipped_model_output = false: eps is not recomputed)
      const x0 = this.predictX0(eps, sample, k.alphaProdT);
      // 7. x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps (+ sigma z)
      let prev = tf.add(tf.mul(x0, Math.sqrt(k.alphaProdPrev)), tf.mul(eps, k.coefEps)) as tf.Tensor4D;
      if (k.stdDev > 0 && z) prev = tf.add(prev, tf.mul(z, k.stdDev));
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }
}
