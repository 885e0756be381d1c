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
import {
  definePlugin,
  pluginOptionsWithout,
  type Defense,
  type DefenseCapabilities,
  type EpsModel,
  type JsonSchema,
  type OptionsOf,
} from '@dbp-bench/framework';
import { DDPMScheduler } from '../schedulers/ddpm-scheduler';
import {
  checkpointOption,
  createWithWeights,
  gradientOption,
  precisionOption,
  strengthOption,
  surrogateOption,
  weightsOption,
} from '../diffusion-plugin';
import { TimestepPurifier, type OwnsModel } from '../purifier';

const dpDdpm = definePlugin({
  kind: 'defense',
  id: 'dp-ddpm',
  description: 'DP_DDPM: DDPM-sampler purification (ADDT code defaults: t* = 0.1, N = 1000 -> 101 steps, fixed_large variance).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['weights'],
    properties: {
      weights: weightsOption,
      strength: strengthOption,
      numInferenceSteps: {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        default: 1000,
        description: 'N, the DDPM schedule length (1000 -> 101 steps at t* = 0.1).',
      },
      varianceType: { enum: ['fixed_large', 'fixed_small'], default: 'fixed_large', description: 'Reverse-step variance.' },
      clipSample: { type: 'boolean', default: true, description: 'Clamp x0_hat to [-1, 1] in every step.' },
      precision: precisionOption,
      gradient: gradientOption,
      checkpoint: checkpointOption,
      surrogate: surrogateOption(100, 1000, 'dp-ddpm: 100 -> 11 steps at t* = 0.1'),
    },
  },
  create: (options, ctx): Promise<Defense> =>
    createWithWeights('dp-ddpm', options, ctx, (model, o) => new DpDdpm(model, { ...o, ownsModel: true })),
});
export default dpDdpm;

/** The options of the dp-ddpm plugin. */
export type DpDdpmPluginOptions = OptionsOf<typeof dpDdpm.schema>;
/** The options DpDdpm takes in code: the plugin's, without `weights` (it is given the network). */
export type DpDdpmOptions = Omit<DpDdpmPluginOptions, 'weights'>;
/** The JSON Schema of the dp-ddpm plugin's options. */
export const DP_DDPM_SCHEMA: JsonSchema = dpDdpm.schema;

export class DpDdpm extends TimestepPurifier {
  readonly id = 'dp-ddpm';
  readonly scheduler: DDPMScheduler;
  /** The purification timesteps, descending. */
  readonly timesteps: Int32Array;
  readonly capabilities: DefenseCapabilities;
  /** The options, validated by the plugin's schema with its defaults filled (the ADDT code's). */
  readonly options: DpDdpmOptions;

  /** `options`: any subset of the plugin's options but `weights` (validated, defaults filled). */
  constructor(model: EpsModel, options: Partial<DpDdpmOptions> & OwnsModel = {}) {
    const { ownsModel, ...rest } = options;
    const o = pluginOptionsWithout(dpDdpm, ['weights'], rest);
    super(model, o, ownsModel === true);
    this.options = o;
    this.scheduler = new DDPMScheduler({ varianceType: o.varianceType, clipSample: o.clipSample, precision: o.precision }).setTimesteps(
      o.numInferenceSteps,
    );
    this.timesteps = this.scheduler.purificationTimesteps(o.strength);
    this.capabilities = this.timestepCapabilities();
  }

  /** The same defense on the same network with the `surrogate` schedule length (§14.3). */
  protected buildSurrogate(): DpDdpm {
    const { surrogate, ...rest } = this.options;
    return new DpDdpm(this.model, { ...rest, numInferenceSteps: surrogate.numInferenceSteps, gradient: 'exact' });
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
