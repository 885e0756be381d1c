/**
 * The purification loop shared by DP_DDPM, DP_DDIM and DiffPure: [0,1] -> [-1,1], forward noising with
 * the `forward` noise stream, a chain of reverse steps (each a deterministic function of its input and
 * its pre-drawn noise), back to [0,1].
 *
 * Gradients: purify() is differentiable (`exact`). Under a gradient tape the chain runs inside the
 * framework's `checkpointedChain` (per-step recompute: only step inputs are stored; memory
 * O(steps x image)). All noise of the chain is drawn before the chain and passed to it, so the
 * recompute sees the same noise whatever the NoiseSource is (fresh sources never draw the same tensor
 * twice). Outside a gradient tape it runs a plain forward loop with one `tf.tidy` per step and draws
 * each step's noise lazily (the draws are keyed per stream, so the values are the same). BPDA is the
 * attack target's (the framework's `purifyWithGradient`), which calls purify() outside the tape.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  checkpointedChain,
  IncompatiblePluginError,
  isRecordingGradient,
  ShapeMismatchError,
  type Defense,
  type DefenseCapabilities,
  type DeviationOptions,
  type EpsModel,
  type GradientMode,
  type NoiseSource,
  type PurifyOptions,
} from '@dbp-bench/framework';

/**
 * Options every diffusion purifier takes (validated, defaults filled: the plugin schemas' `gradient`
 * and `checkpoint`, see diffusion-plugin.ts).
 */
export interface PurifierBaseOptions {
  /** Gradient mode of attack targets created on this defense without one (`bpda`: the target's BPDA). */
  readonly gradient: GradientMode;
  /**
   * Per-step recompute for exact gradients. false = plain `tf.grad` through the whole chain: identical
   * gradient, activation memory of every step (only for short chains / tests).
   */
  readonly checkpoint: boolean;
}

/** What a purifier constructor takes besides its plugin options: whether it owns (and disposes) the network. */
export interface OwnsModel {
  /** Dispose the eps-model in dispose() (set when the defense loaded the weights itself). */
  readonly ownsModel?: boolean;
}

interface ModelWithConfig {
  config?: { inChannels?: unknown };
  setTraining?: (training: boolean) => void;
  dispose?: () => void;
}

/** A diffusion purifier: subclasses define the forward noise level, the steps and their noise. */
export abstract class DiffusionPurifier implements Defense {
  abstract readonly id: string;
  abstract readonly capabilities: DefenseCapabilities;
  readonly defaultGradient: GradientMode;
  protected readonly useCheckpoint: boolean;
  private readonly ownsModel: boolean;

  constructor(
    readonly model: EpsModel,
    base: PurifierBaseOptions,
    ownsModel: boolean,
  ) {
    this.defaultGradient = base.gradient;
    this.useCheckpoint = base.checkpoint;
    this.ownsModel = ownsModel;
    // Purification runs the network in eval mode (dropout off): the chain must be deterministic
    // given its noise for recompute, DW-box replay and bit-identical repeated calls.
    (model as ModelWithConfig).setTraining?.(false);
  }

  private surrogate_?: DiffusionPurifier;

  /** Number of reverse steps in the chain. */
  abstract get numSteps(): number;
  /**
   * The largest time the network is called at, in the units of the discrete training schedule
   * (timestep t of 1000): what a UNet trained only on t < `diffusion.trainTimesteps` must cover.
   */
  abstract get highestNetworkTime(): number;
  /**
   * A new instance of the same defense on the same network (not owning it) with the surrogate's
   * schedule length (the `surrogate` option), or undefined when this configuration has no surrogate.
   */
  protected abstract buildSurrogate(): DiffusionPurifier | undefined;

  /**
   * The shorter-step twin for gradient mode `surrogate` (Lee & Kim, ALGORITHMS.md §14.3): same
   * network, strength and sampler options, the `surrogate.numInferenceSteps` schedule. Built once;
   * disposed with this defense.
   */
  surrogate(): Defense {
    this.surrogate_ ??= this.buildSurrogate();
    if (!this.surrogate_)
      throw new IncompatiblePluginError(`${this.id}: this configuration has no surrogate process (gradient mode 'surrogate')`);
    return this.surrogate_;
  }
  /** sqrt(abar) and sqrt(1 - abar) of the forward noising. */
  protected abstract forwardCoefficients(): { signal: number; noise: number };
  /** Draw the noise tensors step `i` needs (may be empty), in the order `runStep` expects. */
  protected abstract drawStepNoise(i: number, noise: NoiseSource, shape: [number, number, number, number]): tf.Tensor[];
  /** Step i: a deterministic function of x (diffusion space) and its noise tensors. */
  protected abstract runStep(x: tf.Tensor4D, i: number, noise: readonly tf.Tensor[]): tf.Tensor4D;
  /**
   * abar_t of the reverse state after step i (i < numSteps - 1), the noise level of the forward-noised
   * x_t DiffAttack's L_dev compares it with (ALGORITHMS.md §14.2); undefined when the defense does not
   * define one.
   */
  protected stateAlphaBar(_i: number): number | undefined {
    return undefined;
  }

  /** Diffusion space -> [0,1] (default: x/2 + 1/2 clamped to [0,1]). */
  protected toImage(x: tf.Tensor4D): tf.Tensor4D {
    return tf.clipByValue(tf.add(tf.mul(x, 0.5), 0.5), 0, 1) as tf.Tensor4D;
  }

  /** The network on one time value for every row. */
  protected predictEps(x: tf.Tensor4D, modelTime: number): tf.Tensor4D {
    return tf.tidy(() => this.model.predictEps(x, tf.fill([x.shape[0]], modelTime, 'float32') as tf.Tensor1D));
  }

  protected checkInput(x: tf.Tensor4D, noise: NoiseSource): void {
    if (x.rank !== 4)
      throw new ShapeMismatchError(`${this.id}.purify: expected an NHWC image batch (rank 4), got shape [${x.shape.join(',')}]`);
    if (noise.rows.length !== x.shape[0]) {
      throw new ShapeMismatchError(
        `${this.id}.purify: the noise source is bound to ${noise.rows.length} rows but the batch has ${x.shape[0]} images`,
      );
    }
    const cfg = (this.model as ModelWithConfig).config;
    if (cfg && typeof cfg.inChannels === 'number' && cfg.inChannels !== x.shape[3]) {
      throw new ShapeMismatchError(
        `${this.id}.purify: the diffusion model takes ${cfg.inChannels} channels but the images have ${x.shape[3]} (shape [${x.shape.join(',')}])`,
      );
    }
  }

  /**
   * The purification: exact gradients under a tape (checkpointed or plain), a tidy loop otherwise.
   * `options.onStep` hears of every reverse step of the loop outside a checkpointed chain.
   */
  purify(x: tf.Tensor4D, noise: NoiseSource, options: PurifyOptions = {}): tf.Tensor4D {
    this.checkInput(x, noise);
    const shape = x.shape as [number, number, number, number];
    const n = this.numSteps;
    return tf.tidy(() => {
      const { signal, noise: sigma } = this.forwardCoefficients();
      const eps = noise.normal({ kind: 'forward' }, shape);
      // [0,1] -> [-1,1], then x_t = sqrt(abar) x0 + sqrt(1 - abar) eps_f
      const x0 = tf.sub(tf.mul(x, 2), 1);
      const xt = tf.add(tf.mul(x0, signal), tf.mul(eps, sigma)) as tf.Tensor4D;
      let xn: tf.Tensor4D;
      if (isRecordingGradient() && this.useCheckpoint) {
        const aux = Array.from({ length: n }, (_, i) => this.drawStepNoise(i, noise, shape));
        xn = checkpointedChain(xt, n, (xx, i, a) => this.runStep(xx, i, a), aux);
      } else if (isRecordingGradient()) {
        xn = xt;
        for (let i = 0; i < n; i++) {
          xn = this.runStep(xn, i, this.drawStepNoise(i, noise, shape));
          options.onStep?.(i + 1, n);
        }
      } else {
        xn = xt;
        for (let i = 0; i < n; i++) {
          const prev = xn;
          xn = tf.tidy(() => this.runStep(prev, i, this.drawStepNoise(i, noise, shape)));
          if (prev !== xt) prev.dispose();
          options.onStep?.(i + 1, n);
        }
      }
      return this.toImage(xn);
    });
  }

  /**
   * The purification with DiffAttack's L_dev (ALGORITHMS.md §14.2; `Defense.purifyWithDeviation`): the
   * chain carries (x'_t, x0, running L_dev) as one tensor [x', x0, acc] (channels C + C + 1), so the
   * per-step recompute of `checkpointedChain` differentiates L_dev through every reverse state and,
   * through x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps_f, directly through the input; eps_f is the
   * purification's own forward draw. L_dev = mean over the selected states of mean((x'_t - x_t)^2).
   */
  purifyWithDeviation(x: tf.Tensor4D, noise: NoiseSource, options: DeviationOptions): { purified: tf.Tensor4D; deviation: tf.Tensor1D } {
    this.checkInput(x, noise);
    const shape = x.shape as [number, number, number, number];
    const [B, , , C] = shape;
    const n = this.numSteps;
    const selected = deviationSteps(n, options.steps, this.id);
    const coef = new Map<number, [number, number]>();
    for (const i of selected) {
      const a = this.stateAlphaBar(i);
      if (a === undefined) throw new IncompatiblePluginError(`${this.id}: no reverse-state noise level for DiffAttack's deviation loss`);
      coef.set(i, [Math.sqrt(a), Math.sqrt(1 - a)]);
    }
    const w = 1 / selected.length;
    const out = tf.tidy(() => {
      const { signal, noise: sigma } = this.forwardCoefficients();
      const eps = noise.normal({ kind: 'forward' }, shape);
      const x0 = tf.sub(tf.mul(x, 2), 1);
      const xt = tf.add(tf.mul(x0, signal), tf.mul(eps, sigma));
      const state0 = tf.concat([xt, x0, tf.zeros([B, shape[1], shape[2], 1])], 3) as tf.Tensor4D;
      const aux = Array.from({ length: n }, (_, i) => [...this.drawStepNoise(i, noise, shape), eps]);
      const step = (st: tf.Tensor4D, i: number, a: readonly tf.Tensor[]): tf.Tensor4D => {
        const xp = tf.slice(st, [0, 0, 0, 0], [-1, -1, -1, C]) as tf.Tensor4D;
        const z0 = tf.slice(st, [0, 0, 0, C], [-1, -1, -1, C]);
        let acc = tf.slice(st, [0, 0, 0, 2 * C], [-1, -1, -1, 1]);
        const next = this.runStep(xp, i, a.slice(0, a.length - 1));
        const c = coef.get(i);
        if (c) {
          const target = tf.add(tf.mul(z0, c[0]), tf.mul(a[a.length - 1], c[1]));
          const d = tf.mul(tf.mean(tf.square(tf.sub(next, target)), [1, 2, 3]), w);
          acc = tf.add(acc, tf.reshape(d, [B, 1, 1, 1]));
        }
        return tf.concat([next, z0, acc], 3) as tf.Tensor4D;
      };
      let xn: tf.Tensor4D;
      if (isRecordingGradient() && this.useCheckpoint) xn = checkpointedChain(state0, n, step, aux);
      else {
        xn = state0;
        for (let i = 0; i < n; i++) xn = step(xn, i, aux[i]);
      }
      const purified = this.toImage(tf.slice(xn, [0, 0, 0, 0], [-1, -1, -1, C]) as tf.Tensor4D);
      const deviation = tf.reshape(tf.slice(xn, [0, 0, 0, 2 * C], [-1, 1, 1, 1]), [B]) as tf.Tensor1D;
      return { purified, deviation };
    });
    return out;
  }

  dispose(): void {
    this.surrogate_?.dispose();
    this.surrogate_ = undefined;
    if (this.ownsModel) (this.model as ModelWithConfig).dispose?.();
  }
}

/**
 * The reverse states (step indices i: the state after step i) DiffAttack's L_dev uses on an n-step
 * chain: every state but the output (`all`, i = 0 .. n - 2), or k uniformly spaced ones
 * (round((j + 1)(n - 1) / k) - 1, j < k; k = n - 1 is `all`).
 */
export function deviationSteps(n: number, steps: 'all' | number, id = 'purifier'): number[] {
  const m = n - 1;
  if (m < 1) throw new IncompatiblePluginError(`${id}: a one-step chain has no intermediate reverse state for DiffAttack's deviation loss`);
  if (steps === 'all') return Array.from({ length: m }, (_, i) => i);
  if (!Number.isInteger(steps) || steps < 1 || steps > m) {
    throw new IncompatiblePluginError(
      `${id}: deviation.steps must be 'all' or an integer in [1, ${m}] (the chain has ${n} steps), got ${steps}`,
    );
  }
  return Array.from({ length: steps }, (_, j) => Math.round(((j + 1) * m) / steps) - 1);
}

/**
 * A purifier over a descending list of discrete timesteps (the DDPM and DDIM samplers): forward noise
 * at `timesteps[0]`, one network call per timestep, and reverse noise keyed by the timestep VALUE t
 * (stream `reverse`, step t) wherever the step at t adds noise.
 */
export abstract class TimestepPurifier extends DiffusionPurifier {
  /** The purification timesteps, descending. */
  abstract readonly timesteps: Int32Array;
  protected abstract readonly alphasCumprod: ArrayLike<number>;
  /** Whether the reverse step at timestep t draws noise. */
  protected abstract stepAddsNoise(t: number): boolean;

  get numSteps(): number {
    return this.timesteps.length;
  }

  get highestNetworkTime(): number {
    return Math.max(...this.timesteps);
  }

  protected override stateAlphaBar(i: number): number | undefined {
    return i + 1 < this.timesteps.length ? this.alphasCumprod[this.timesteps[i + 1]] : undefined;
  }

  protected forwardCoefficients(): { signal: number; noise: number } {
    const a = this.alphasCumprod[this.timesteps[0]];
    return { signal: Math.sqrt(a), noise: Math.sqrt(1 - a) };
  }

  protected drawStepNoise(i: number, noise: NoiseSource, shape: [number, number, number, number]): tf.Tensor[] {
    const t = this.timesteps[i];
    return this.stepAddsNoise(t) ? [noise.normal({ kind: 'reverse', step: t }, shape)] : [];
  }

  /**
   * The capabilities once `timesteps` is set: `reverse` is a stream only if some step draws noise;
   * gradient modes `exact` and `surrogate`.
   */
  protected timestepCapabilities(): DefenseCapabilities {
    const hasReverse = Array.from(this.timesteps).some((t) => this.stepAddsNoise(t));
    return Object.freeze({
      stochastic: true,
      streams: Object.freeze(hasReverse ? ['forward', 'reverse'] : ['forward']) as DefenseCapabilities['streams'],
      gradientModes: Object.freeze(['exact', 'surrogate']) as DefenseCapabilities['gradientModes'],
      networkCalls: this.timesteps.length,
    });
  }
}
