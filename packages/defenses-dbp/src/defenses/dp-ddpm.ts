/**
 * DP_DDPM: purification with the DDPM ancestral sampler, as in the ADDT code
 * (Robustness_test/main_code/ddpm_attack_eval_linf.py; spec ALGORITHMS.md §3.3).
 *
 *   x = 2 x_in - 1;  tl = timesteps(N)[round((1 - t*) N) - 1:]      (N = 1000, t* = 0.1 -> 100, 99, ..., 0)
 *   x = sqrt(abar[tl0]) x + sqrt(1 - abar[tl0]) eps_f                (stream `forward`)
 *   for t in tl: x = DDPM.step(eps_theta(x, t), t, x, z_t)            (z_t: stream `reverse`, step = t, for t > 0)
 *   out = clamp(x / 2 + 1/2, 0, 1)
 *
 * Reverse noise is keyed by the timestep VALUE t (as `reverse_noise[t]` in the ADDT lock files), so a
 * DW_Rev / DW_Both replay uses the same z_t whatever N is.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DefenseCapabilities, EpsModel, NoiseSource } from '@dbp-bench/framework';
import { DDPMScheduler, type DdpmVarianceType } from '../schedulers/ddpm-scheduler';
import type { SchedulePrecision } from '../schedulers/schedule';
import { TimestepPurifier, type PurifierBaseOptions } from './purifier';

export interface DpDdpmOptions extends PurifierBaseOptions {
  /** t*, the fraction of the schedule that is noised and denoised (default 0.1). */
  readonly strength?: number;
  /** N, the inference schedule length (default 1000 -> 101 steps at t* = 0.1). */
  readonly numInferenceSteps?: number;
  /** Variance of the reverse noise (default `fixed_large`, ADDT `--fix_type large`). */
  readonly varianceType?: DdpmVarianceType;
  /** Clamp x0_hat to [-1, 1] in every step (default true, diffusers `clip_sample`). */
  readonly clipSample?: boolean;
  /** Schedule precision (default float64; `float32` reproduces torch's float32 schedule). */
  readonly precision?: SchedulePrecision;
}

export class DpDdpm extends TimestepPurifier {
  readonly id = 'dp-ddpm';
  readonly scheduler: DDPMScheduler;
  /** The purification timesteps, descending. */
  readonly timesteps: Int32Array;
  readonly capabilities: DefenseCapabilities;
  readonly options: Readonly<Required<Omit<DpDdpmOptions, keyof PurifierBaseOptions>>>;

  constructor(model: EpsModel, options: DpDdpmOptions = {}) {
    super(model, options);
    this.options = Object.freeze({
      strength: options.strength ?? 0.1,
      numInferenceSteps: options.numInferenceSteps ?? 1000,
      varianceType: options.varianceType ?? 'fixed_large',
      clipSample: options.clipSample ?? true,
      precision: options.precision ?? 'float64',
    });
    const o = this.options;
    this.scheduler = new DDPMScheduler({ varianceType: o.varianceType, clipSample: o.clipSample, precision: o.precision }).setTimesteps(o.numInferenceSteps);
    this.timesteps = this.scheduler.purificationTimesteps(o.strength);
    this.capabilities = this.timestepCapabilities();
  }

  protected get alphasCumprod(): ArrayLike<number> {
    return this.scheduler.alphasCumprod;
  }

  protected stepAddsNoise(t: number): boolean {
    return this.scheduler.stepCoefficients(t).variance > 0;
  }

  protected runStep(x: tf.Tensor4D, i: number, noise: readonly tf.Tensor[]): tf.Tensor4D {
    const t = this.timesteps[i];
    const eps = this.predictEps(x, t);
    const out = this.scheduler.step(eps, t, x, noise[0]);
    out.predOriginalSample.dispose();
    eps.dispose();
    return out.prevSample;
  }
}
