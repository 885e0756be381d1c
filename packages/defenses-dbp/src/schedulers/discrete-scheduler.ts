/**
 * What the DDPM and DDIM schedulers share: the linear-beta training schedule, the "leading" inference
 * timesteps chosen by `setTimesteps(N)` (the only mutable state, as in diffusers), the ADDT
 * purification list, the x0 prediction with optional clipping and the forward process.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';
import { alphasCumprod, leadingTimesteps, linearBetas, strengthTimesteps, type SchedulePrecision } from './schedule';

export interface DiscreteSchedulerConfig {
  /** T, the number of training timesteps (default 1000). */
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  /** Clamp the predicted x0 to [-clipSampleRange, clipSampleRange] (diffusers default true). */
  readonly clipSample: boolean;
  readonly clipSampleRange: number;
  /** Schedule precision (see schedule.ts): float64 (default) or the torch float32 values. */
  readonly precision: SchedulePrecision;
}

/** Per-row coefficient tensor [B,1,1,1] or a scalar, for t given as one number or one per row. */
function perRow(values: number[]): tf.Tensor {
  return values.length === 1 ? tf.scalar(values[0]) : tf.tensor4d(values, [values.length, 1, 1, 1]);
}

export abstract class DiscreteScheduler<C extends DiscreteSchedulerConfig> {
  readonly config: Readonly<C>;
  /** beta_t, t = 0..T-1. Do not mutate. */
  readonly betas: Float64Array;
  /** abar_t, t = 0..T-1. Do not mutate. */
  readonly alphasCumprod: Float64Array;
  private numInferenceSteps_: number;
  private timesteps_: Int32Array;

  /** `config` is complete (defaults filled); `name` prefixes error messages. */
  protected constructor(
    config: C,
    private readonly name: string,
  ) {
    this.config = Object.freeze({ ...config });
    const c = this.config;
    this.betas = linearBetas(c.numTrainTimesteps, c.betaStart, c.betaEnd, c.precision);
    this.alphasCumprod = alphasCumprod(this.betas, c.precision);
    this.numInferenceSteps_ = c.numTrainTimesteps;
    this.timesteps_ = leadingTimesteps(c.numTrainTimesteps, c.numTrainTimesteps);
  }

  /** N, the inference schedule length set by setTimesteps (T until then). */
  get numInferenceSteps(): number {
    return this.numInferenceSteps_;
  }

  /** The inference timesteps, descending (a copy). */
  get timesteps(): Int32Array {
    return this.timesteps_.slice();
  }

  /** Use an N-step schedule with "leading" spacing: [(N-1)·T//N, ..., T//N, 0]. Returns this. */
  setTimesteps(numInferenceSteps: number): this {
    this.timesteps_ = leadingTimesteps(this.config.numTrainTimesteps, numInferenceSteps);
    this.numInferenceSteps_ = numInferenceSteps;
    return this;
  }

  /** The ADDT purification list `timesteps[round((1 - strength) * N) - 1:]` (DDPM N = 1000 or DDIM N = 100, strength 0.1 -> from 100 down to 0). */
  purificationTimesteps(strength: number): Int32Array {
    return strengthTimesteps(this.timesteps_, strength);
  }

  /** diffusers `previous_timestep`: t - T // N. */
  previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps_);
  }

  protected checkT(t: number): void {
    if (!Number.isInteger(t) || t < 0 || t >= this.config.numTrainTimesteps) {
      throw new DbpError('E_ASSERT', `${this.name}: timestep must be an integer in [0, ${this.config.numTrainTimesteps - 1}], got ${t}`);
    }
  }

  /** x0_hat = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (formula (15) of Ho et al.), clipped when configured. */
  protected predictX0(eps: tf.Tensor4D, sample: tf.Tensor4D, alphaProdT: number): tf.Tensor4D {
    const x0 = tf.div(tf.sub(sample, tf.mul(eps, Math.sqrt(1 - alphaProdT))), Math.sqrt(alphaProdT)) as tf.Tensor4D;
    return this.config.clipSample ? tf.clipByValue(x0, -this.config.clipSampleRange, this.config.clipSampleRange) : x0;
  }

  /** Forward process x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; t is one timestep or one per row. */
  addNoise(x0: tf.Tensor4D, noise: tf.Tensor4D, t: number | ArrayLike<number>): tf.Tensor4D {
    const ts = typeof t === 'number' ? [t] : Array.from(t);
    if (typeof t !== 'number' && ts.length !== x0.shape[0]) {
      throw new DbpError('E_ASSERT', `${this.name}.addNoise: ${ts.length} timesteps for a batch of ${x0.shape[0]}`);
    }
    ts.forEach((v) => this.checkT(v));
    return tf.tidy(() => {
      const a = perRow(ts.map((v) => Math.sqrt(this.alphasCumprod[v])));
      const s = perRow(ts.map((v) => Math.sqrt(1 - this.alphasCumprod[v])));
      return tf.add(tf.mul(x0, a), tf.mul(noise, s)) as tf.Tensor4D;
    });
  }
}
