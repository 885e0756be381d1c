/**
 * DP_DDIM: purification with the DDIM sampler, as in the ADDT code
 * (Robustness_test/main_code/ddim_attack_eval_linf.py; spec ALGORITHMS.md §3.4). Same checkpoint as
 * DP_DDPM; default N = 100 (11 steps at t* = 0.1: 100, 90, ..., 0) and eta = 0, so the only randomness
 * is the forward noise eps_f: DW_Rev equals the plain white-box setting and DW_Fwd equals DW_Both.
 * With eta > 0 the step noise is drawn from stream `reverse` keyed by the timestep value.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { DefenseCapabilities, EpsModel, NoiseSource } from '@dbp-bench/framework';
import { DbpError } from '@dbp-bench/framework';
import { DDIMScheduler } from '../schedulers/ddim-scheduler';
import type { SchedulePrecision } from '../schedulers/schedule';
import { TimestepPurifier, type PurifierBaseOptions } from './purifier';

export interface DpDdimOptions extends PurifierBaseOptions {
  /** t* (default 0.1). */
  readonly strength?: number;
  /** N (default 100 -> 11 steps at t* = 0.1). */
  readonly numInferenceSteps?: number;
  /** DDIM eta (default 0: deterministic reverse process). */
  readonly eta?: number;
  /** Clamp x0_hat to [-1, 1] (default true). */
  readonly clipSample?: boolean;
  /** abar_prev = 1 at the last step (default true, diffusers default). */
  readonly setAlphaToOne?: boolean;
  readonly precision?: SchedulePrecision;
}

export class DpDdim extends TimestepPurifier {
  readonly id = 'dp-ddim';
  readonly scheduler: DDIMScheduler;
  readonly timesteps: Int32Array;
  readonly capabilities: DefenseCapabilities;
  readonly options: Readonly<Required<Omit<DpDdimOptions, keyof PurifierBaseOptions>>>;

  constructor(model: EpsModel, options: DpDdimOptions = {}) {
    super(model, options);
    this.options = Object.freeze({
      strength: options.strength ?? 0.1,
      numInferenceSteps: options.numInferenceSteps ?? 100,
      eta: options.eta ?? 0,
      clipSample: options.clipSample ?? true,
      setAlphaToOne: options.setAlphaToOne ?? true,
      precision: options.precision ?? 'float64',
    });
    const o = this.options;
    if (!(o.eta >= 0)) throw new DbpError('E_ASSERT', `dp-ddim: eta must be >= 0, got ${o.eta}`);
    this.scheduler = new DDIMScheduler({ clipSample: o.clipSample, setAlphaToOne: o.setAlphaToOne, precision: o.precision }).setTimesteps(o.numInferenceSteps);
    this.timesteps = this.scheduler.purificationTimesteps(o.strength);
    this.capabilities = this.timestepCapabilities();
  }

  protected get alphasCumprod(): ArrayLike<number> {
    return this.scheduler.alphasCumprod;
  }

  protected stepAddsNoise(t: number): boolean {
    return this.scheduler.stepCoefficients(t, this.options.eta).stdDev > 0;
  }

  protected runStep(x: tf.Tensor4D, i: number, noise: readonly tf.Tensor[]): tf.Tensor4D {
    const t = this.timesteps[i];
    const eps = this.predictEps(x, t);
    const out = this.scheduler.step(eps, t, x, this.options.eta, noise[0]);
    out.predOriginalSample.dispose();
    eps.dispose();
    return out.prevSample;
  }
}
