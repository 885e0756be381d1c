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
import type { DefenseCapabilities, EpsModel, NoiseSource, NoiseStreamKind } from '@dbp-bench/framework';
import { DbpError } from '@dbp-bench/framework';
import { VPSDE, type VpStep } from '../schedulers/vp-sde';
import { DiffusionPurifier, type PurifierBaseOptions } from './purifier';

export type DiffPureVariant = 'addt' | 'diffpure-original';

export interface DiffPureOptions extends PurifierBaseOptions {
  /** `addt` (default) or `diffpure-original`. */
  readonly variant?: DiffPureVariant;
  /** t* (default 0.1). */
  readonly strength?: number;
  /** addt: N, the length of the grid linspace(1, 1e-3, N) (default 1000 -> 101 steps, dt = -1/N). */
  readonly numInferenceSteps?: number;
  /** diffpure-original: the Euler step dt (default 1e-3, torchsde's default). */
  readonly dt?: number;
  /** addt: one Langevin corrector step before each predictor step (default false). */
  readonly corrector?: boolean;
  /** Corrector signal-to-noise ratio (default 0.16). */
  readonly snr?: number;
  /** Clamp the output to [0,1] (default true). */
  readonly clampOutput?: boolean;
}

export class DiffPure extends DiffusionPurifier {
  readonly id = 'diffpure';
  readonly sde: VPSDE;
  /** The reverse steps: drift time t and step length h. */
  readonly steps: readonly VpStep[];
  readonly capabilities: DefenseCapabilities;
  readonly options: Readonly<Required<Omit<DiffPureOptions, keyof PurifierBaseOptions>>>;
  private readonly forwardAlphaBar: number;

  constructor(model: EpsModel, options: DiffPureOptions = {}) {
    super(model, options);
    this.options = Object.freeze({
      variant: options.variant ?? 'addt',
      strength: options.strength ?? 0.1,
      numInferenceSteps: options.numInferenceSteps ?? 1000,
      dt: options.dt ?? 1e-3,
      corrector: options.corrector ?? false,
      snr: options.snr ?? 0.16,
      clampOutput: options.clampOutput ?? true,
    });
    const o = this.options;
    this.sde = new VPSDE();
    if (o.variant === 'addt') {
      this.steps = Object.freeze(this.sde.addtSteps(o.strength, o.numInferenceSteps));
      this.forwardAlphaBar = this.sde.alphaBar(this.steps[0].t);
    } else if (o.variant === 'diffpure-original') {
      if (o.corrector) throw new DbpError('E_ASSERT', `diffpure: the corrector exists only in variant 'addt' (DiffPure-original is predictor-only)`);
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
      gradientModes: Object.freeze(['exact']) as DefenseCapabilities['gradientModes'],
      networkCalls: this.steps.length * (o.corrector ? 2 : 1),
    });
  }

  get numSteps(): number {
    return this.steps.length;
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
