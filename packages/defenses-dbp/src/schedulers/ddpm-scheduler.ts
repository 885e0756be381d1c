/**
 * DDPM ancestral sampling step (Ho et al. 2020, https://arxiv.org/abs/2006.11239), as implemented by
 * diffusers 0.21 `DDPMScheduler.step` (which the ADDT code copies verbatim): epsilon prediction,
 * x0 clipping, "leading" timestep spacing, `fixed_large` or `fixed_small` variance.
 *
 * The scheduler is a config-frozen object. `setTimesteps(N)` chooses the inference schedule (the only
 * mutable state, as in diffusers); `step()` and `addNoise()` are pure functions of their arguments.
 * Every random number is passed in: `step()` takes the reverse noise z_t, it never draws one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';
import { DiscreteScheduler, type DiscreteSchedulerConfig } from './discrete-scheduler';

export type DdpmVarianceType = 'fixed_large' | 'fixed_small';

export interface DdpmSchedulerConfig extends DiscreteSchedulerConfig {
  /** `fixed_large`: variance beta'_t (ADDT scripts, `--fix_type large`); `fixed_small`: the posterior variance (diffusers default). */
  readonly varianceType: DdpmVarianceType;
}

export const DDPM_SCHEDULER_DEFAULTS: DdpmSchedulerConfig = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  varianceType: 'fixed_large',
  clipSample: true,
  clipSampleRange: 1,
  precision: 'float64',
});

/** The float64 coefficients of one reverse step t -> prev(t). */
export interface DdpmStepCoefficients {
  readonly t: number;
  readonly prevT: number;
  /** abar_t */
  readonly alphaProdT: number;
  /** abar_prev (1 when prev < 0) */
  readonly alphaProdPrev: number;
  /** beta'_t = 1 - abar_t / abar_prev ("current_beta_t"; equals beta_t when N = T). */
  readonly currentBeta: number;
  /** Coefficient of x0_hat in the posterior mean: sqrt(abar_prev) beta'_t / (1 - abar_t). */
  readonly coefX0: number;
  /** Coefficient of x_t in the posterior mean: sqrt(abar_t / abar_prev) (1 - abar_prev) / (1 - abar_t). */
  readonly coefXt: number;
  /** Variance of the added noise (0 at t = 0). */
  readonly variance: number;
}

export interface SchedulerStepOutput {
  /** x_{prev}: the next, less noisy sample. */
  readonly prevSample: tf.Tensor4D;
  /** The (clipped) x0 prediction. */
  readonly predOriginalSample: tf.Tensor4D;
}

/** DDPM scheduler (diffusers 0.21 semantics). */
export class DDPMScheduler extends DiscreteScheduler<DdpmSchedulerConfig> {
  constructor(config: Partial<DdpmSchedulerConfig> = {}) {
    const c = { ...DDPM_SCHEDULER_DEFAULTS, ...config };
    if (c.varianceType !== 'fixed_large' && c.varianceType !== 'fixed_small') {
      throw new DbpError('E_ASSERT', `DDPMScheduler: varianceType must be 'fixed_large' or 'fixed_small', got '${String(c.varianceType)}'`);
    }
    super(c, 'DDPMScheduler');
  }

  /** The float64 coefficients of the step from t (formula (7) of Ho et al. with the diffusers variance). */
  stepCoefficients(t: number): DdpmStepCoefficients {
    this.checkT(t);
    const prevT = this.previousTimestep(t);
    // 1. alphas and betas
    const alphaProdT = this.alphasCumprod[t];
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT] : 1;
    const betaProdT = 1 - alphaProdT;
    const betaProdPrev = 1 - alphaProdPrev;
    const currentAlpha = alphaProdT / alphaProdPrev;
    const currentBeta = 1 - currentAlpha;
    // 4. posterior-mean coefficients of x0_hat and x_t
    const coefX0 = (Math.sqrt(alphaProdPrev) * currentBeta) / betaProdT;
    const coefXt = (Math.sqrt(currentAlpha) * betaProdPrev) / betaProdT;
    // 6. variance: fixed_small = posterior variance (clamped at 1e-20), fixed_large = beta'_t; none at t = 0
    let variance = 0;
    if (t > 0) {
      variance = this.config.varianceType === 'fixed_large' ? currentBeta : Math.max((betaProdPrev / betaProdT) * currentBeta, 1e-20);
    }
    return { t, prevT, alphaProdT, alphaProdPrev, currentBeta, coefX0, coefXt, variance };
  }

  /**
   * One reverse step x_t -> x_prev given the predicted noise `eps` and, for t > 0, the noise `z`
   * (standard normal, shape of x). Pure: no random draws.
   */
  step(eps: tf.Tensor4D, t: number, sample: tf.Tensor4D, z?: tf.Tensor): SchedulerStepOutput {
    const k = this.stepCoefficients(t);
    if (k.variance > 0 && !z) {
      throw new DbpError(
        'E_ASSERT',
        `DDPMScheduler.step(t=${t}): the step adds noise (variance ${k.variance}) but no noise tensor was given`,
      );
    }
    return tf.tidy(() => {
      // 2.-3. predicted x0 from the predicted noise, clipped
      const x0 = this.predictX0(eps, sample, k.alphaProdT);
      // 5. posterior mean mu_t
      let prev = tf.add(tf.mul(x0, k.coefX0), tf.mul(sample, k.coefXt)) as tf.Tensor4D;
      // 6. add sigma_t z for t > 0
      if (k.variance > 0 && z) prev = tf.add(prev, tf.mul(z, Math.sqrt(k.variance)));
      return { prevSample: prev, predOriginalSample: x0 };
    });
  }
}
