/**
 * DP_DDIM: purification with the DDIM sampler, as in the ADDT code
 * (Robustness_test/main_code/ddim_attack_eval_linf.py; spec ALGORITHMS.md §3.4). Same checkpoint as
 * DP_DDPM; default N = 100 (11 steps at t* = 0.1: 100, 90, ..., 0) and eta = 0, so the only randomness
 * is the forward noise eps_f: DW_Rev equals the plain white-box setting and DW_Fwd equals DW_Both.
 * With eta > 0 the step noise is drawn from stream `reverse` keyed by the timestep value.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  DbpError,
  definePlugin,
  pluginOptionsWithout,
  type Defense,
  type DefenseCapabilities,
  type EpsModel,
  type JsonSchema,
  type OptionsOf,
} from '@dbp-bench/framework';
import { DDIMScheduler } from '../schedulers/ddim-scheduler';
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

const dpDdim = definePlugin({
  kind: 'defense',
  id: 'dp-ddim',
  description: 'DP_DDIM: DDIM-sampler purification (ADDT code defaults: t* = 0.1, N = 100 -> 11 steps, eta = 0).',
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
        default: 100,
        description: 'N, the DDIM schedule length (100 -> 11 steps at t* = 0.1).',
      },
      eta: { type: 'number', minimum: 0, default: 0, description: 'DDIM eta (0: deterministic reverse process).' },
      clipSample: { type: 'boolean', default: true, description: 'Clamp x0_hat to [-1, 1] in every step.' },
      setAlphaToOne: { type: 'boolean', default: true, description: 'abar_prev = 1 at the last step.' },
      precision: precisionOption,
      gradient: gradientOption,
      checkpoint: checkpointOption,
      surrogate: surrogateOption(20, 1000, 'dp-ddim: 20 -> 3 steps at t* = 0.1'),
    },
  },
  create: (options, ctx): Promise<Defense> =>
    createWithWeights('dp-ddim', options, ctx, (model, o) => new DpDdim(model, { ...o, ownsModel: true })),
});
export default dpDdim;

/** The options of the dp-ddim plugin. */
export type DpDdimPluginOptions = OptionsOf<typeof dpDdim.schema>;
/** The options DpDdim takes in code: the plugin's, without `weights` (it is given the network). */
export type DpDdimOptions = Omit<DpDdimPluginOptions, 'weights'>;
/** The JSON Schema of the dp-ddim plugin's options. */
export const DP_DDIM_SCHEMA: JsonSchema = dpDdim.schema;

export class DpDdim extends TimestepPurifier {
  readonly id = 'dp-ddim';
  readonly scheduler: DDIMScheduler;
  readonly timesteps: Int32Array;
  readonly capabilities: DefenseCapabilities;
  /** The options, validated by the plugin's schema with its defaults filled (the ADDT code's). */
  readonly options: DpDdimOptions;

  /** `options`: any subset of the plugin's options but `weights` (validated, defaults filled). */
  constructor(model: EpsModel, options: Partial<DpDdimOptions> & OwnsModel = {}) {
    const { ownsModel, ...rest } = options;
    const o = pluginOptionsWithout(dpDdim, ['weights'], rest);
    super(model, o, ownsModel === true);
    this.options = o;
    if (!(o.eta >= 0)) throw new DbpError('E_ASSERT', `dp-ddim: eta must be >= 0, got ${o.eta}`);
    this.scheduler = new DDIMScheduler({ clipSample: o.clipSample, setAlphaToOne: o.setAlphaToOne, precision: o.precision }).setTimesteps(
      o.numInferenceSteps,
    );
    this.timesteps = this.scheduler.purificationTimesteps(o.strength);
    this.capabilities = this.timestepCapabilities();
  }

  /** The same defense on the same network with the `surrogate` schedule length (§14.3). */
  protected buildSurrogate(): DpDdim {
    const { surrogate, ...rest } = this.options;
    return new DpDdim(this.model, { ...rest, numInferenceSteps: surrogate.numInferenceSteps, gradient: 'exact' });
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
