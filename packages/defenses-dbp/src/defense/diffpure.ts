/**
 * DiffPure (Nie et al., ICML 2022, https://arxiv.org/abs/2205.07460): VP-SDE purification with an
 * eps-prediction network (score = -eps(x, 999 t) / s(t)). Two variants (spec ALGORITHMS.md §3.1–3.2):
 *
 * - `addt` (default): the ADDT repository's loop (vp_attack_eval_*.py). Forward noise at the continuous
 *   abar(0.101); 101 reverse times 0.101, 0.100, ..., 0.001 with dt = -1e-3; Euler–Maruyama predictor
 *   (Brownian increments from stream `path`, step = solver step index; none is drawn for the last
 *   step, whose noise-free mean is the output); optional one-step Langevin corrector before each
 *   predictor (snr 0.16, noise from stream `corrector`). Default predictor-only, as the ADDT clean-eval
 *   and DW-box files and DiffPure itself (the ADDT attack file adds the corrector; turn it on with
 *   `corrector: true`).
 * - `diffpure-original`: NVlabs/DiffPure. Forward noise at the discrete a[t-1] (t = 1000 t*, a[99] for
 *   t* = 0.1); torchsde Euler with dt = 1e-3 over reversed time [1 - t*, 1 - 1e-5] (100 steps for
 *   t* = 0.1); output the last state (no final denoising).
 *
 * Output: (x + 1)/2 clamped to [0,1] (`clampOutput`, default true; the framework's Defense contract
 * returns [0,1] images). The ADDT VP attack file does not clamp and its clean-eval file does; with
 * `clampOutput: false` the raw (x + 1)/2 is returned.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DbpError,
  definePlugin,
  pluginOptionsWithout,
  type Defense,
  type DefenseCapabilities,
  type EpsModel,
  type JsonSchema,
  type NoiseSource,
  type NoiseStreamKind,
  type OptionsOf,
} from '@dbp-bench/framework';
import { VPSDE, type VpStep } from '../schedulers/vp-sde';
import { checkpointOption, createWithWeights, gradientOption, strengthOption, surrogateOption, weightsOption } from '../diffusion-plugin';
import { DiffusionPurifier, type OwnsModel } from '../purifier';

const diffpure = definePlugin({
  kind: 'defense',
  id: 'diffpure',
  description: 'DiffPure: VP-SDE purification (default: ADDT-repo variant, 101 Euler-Maruyama steps from t = 0.101, predictor only).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['weights'],
    properties: {
      weights: weightsOption,
      variant: {
        enum: ['addt', 'diffpure-original'],
        default: 'addt',
        description: 'addt: ADDT-repo VP loop (101 steps from t = 0.101); diffpure-original: NVlabs torchsde Euler from a[t-1].',
      },
      strength: strengthOption,
      numInferenceSteps: {
        type: 'integer',
        minimum: 2,
        maximum: 100000,
        default: 1000,
        description: 'addt: N of the grid linspace(1, 1e-3, N) (dt = -1/N).',
      },
      dt: { type: 'number', exclusiveMinimum: 0, maximum: 0.5, default: 0.001, description: 'diffpure-original: Euler step.' },
      corrector: { type: 'boolean', default: false, description: 'addt: one Langevin corrector step (snr) before each predictor step.' },
      snr: { type: 'number', exclusiveMinimum: 0, default: 0.16, description: 'Corrector signal-to-noise ratio.' },
      clampOutput: { type: 'boolean', default: true, description: 'Clamp the purified image to [0, 1].' },
      gradient: gradientOption,
      checkpoint: checkpointOption,
      surrogate: surrogateOption(100, 100000, "diffpure variant 'addt' only: 100 -> 11 steps at t* = 0.1"),
    },
  },
  create: (options, ctx): Promise<Defense> =>
    createWithWeights('diffpure', options, ctx, (model, o) => new DiffPure(model, { ...o, ownsModel: true })),
});
export default diffpure;

/** The options of the diffpure plugin. */
export type DiffPurePluginOptions = OptionsOf<typeof diffpure.schema>;
/** The options DiffPure takes in code: the plugin's, without `weights` (it is given the network). */
export type DiffPureOptions = Omit<DiffPurePluginOptions, 'weights'>;
/** The variant: `addt` (the ADDT repository's loop) or `diffpure-original` (NVlabs/DiffPure). */
export type DiffPureVariant = DiffPureOptions['variant'];
/** The JSON Schema of the diffpure plugin's options. */
export const DIFFPURE_SCHEMA: JsonSchema = diffpure.schema;

export class DiffPure extends DiffusionPurifier {
  readonly id = 'diffpure';
  readonly sde: VPSDE;
  /** The reverse steps: drift time t and step length h. */
  readonly steps: readonly VpStep[];
  readonly capabilities: DefenseCapabilities;
  /** The options, validated by the plugin's schema with its defaults filled. */
  readonly options: DiffPureOptions;
  private readonly forwardAlphaBar: number;

  /** `options`: any subset of the plugin's options but `weights` (validated, defaults filled). */
  constructor(model: EpsModel, options: Partial<DiffPureOptions> & OwnsModel = {}) {
    const { ownsModel, ...rest } = options;
    const o = pluginOptionsWithout(diffpure, ['weights'], rest);
    super(model, o, ownsModel === true);
    this.options = o;
    this.sde = new VPSDE();
    if (o.variant === 'addt') {
      this.steps = Object.freeze(this.sde.addtSteps(o.strength, o.numInferenceSteps));
      this.forwardAlphaBar = this.sde.alphaBar(this.steps[0].t);
    } else if (o.variant === 'diffpure-original') {
      if (o.corrector)
        throw new DbpError('E_ASSERT', `diffpure: the corrector exists only in variant 'addt' (DiffPure-original is predictor-only)`);
      const g = this.sde.diffpureOriginalSteps(o.strength, o.dt);
      this.steps = Object.freeze(g.steps);
      this.forwardAlphaBar = g.forwardAlphaBar;
    } else {
      throw new DbpError('E_ASSERT', `diffpure: variant must be 'addt' or 'diffpure-original', got '${String(o.variant)}'`);
    }
    const streams: NoiseStreamKind[] = ['forward'];
    if (this.steps.length > 1 || o.variant === 'diffpure-original') streams.push('path');
    if (o.corrector) streams.push('corrector');
    this.capabilities = Object.freeze({
      stochastic: true,
      streams: Object.freeze(streams),
      gradientModes: Object.freeze(o.variant === 'addt' ? ['exact', 'surrogate'] : ['exact']) as DefenseCapabilities['gradientModes'],
      networkCalls: this.steps.length * (o.corrector ? 2 : 1),
    });
  }

  get numSteps(): number {
    return this.steps.length;
  }

  /** The network's time input is `timeScale * t` (999 t): the first step's t is the largest. */
  get highestNetworkTime(): number {
    return this.sde.config.timeScale * Math.max(...this.steps.map((s) => s.t));
  }

  /** Variant `addt`: the same defense on the same network with the `surrogate` grid length N (§14.3). */
  protected buildSurrogate(): DiffPure | undefined {
    if (this.options.variant !== 'addt') return undefined;
    const { surrogate, ...rest } = this.options;
    return new DiffPure(this.model, { ...rest, numInferenceSteps: surrogate.numInferenceSteps, gradient: 'exact' });
  }

  protected forwardCoefficients(): { signal: number; noise: number } {
    return { signal: Math.sqrt(this.forwardAlphaBar), noise: Math.sqrt(1 - this.forwardAlphaBar) };
  }

  /** Whether predictor step i adds noise (addt: all but the last, whose mean is the output). */
  private hasPathNoise(i: number): boolean {
    return this.options.variant === 'diffpure-original' || i < this.steps.length - 1;
  }

  protected drawStepNoise(i: number, noise: NoiseSource, shape: [number, number, number, number]): tf.Tensor[] {
    const out: tf.Tensor[] = [];
    if (this.options.corrector) out.push(noise.normal({ kind: 'corrector', step: i }, shape));
    if (this.hasPathNoise(i)) out.push(noise.normal({ kind: 'path', step: i }, shape));
    return out;
  }

  protected runStep(x: tf.Tensor4D, i: number, noise: readonly tf.Tensor[]): tf.Tensor4D {
    const step = this.steps[i];
    const modelTime = this.sde.modelTime(step.t);
    let k = 0;
    let cur = x;
    if (this.options.corrector) {
      const z = noise[k++];
      const eps = this.predictEps(cur, modelTime);
      cur = this.sde.correctorStep(eps, step.t, cur, z, this.options.snr, this.options.numInferenceSteps);
      eps.dispose();
    }
    const z = this.hasPathNoise(i) ? noise[k++] : undefined;
    const eps = this.predictEps(cur, modelTime);
    const { sample, mean } = this.sde.predictorStep(eps, step, cur, z);
    eps.dispose();
    mean.dispose();
    if (cur !== x) cur.dispose();
    return sample;
  }

  protected override toImage(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = tf.add(tf.mul(x, 0.5), 0.5) as tf.Tensor4D;
      return this.options.clampOutput ? (tf.clipByValue(y, 0, 1) as tf.Tensor4D) : y;
    });
  }
}
