/**
 * Exponential moving average of weights with warm-up, as diffusers' EMAModel with use_ema_warmup
 * (the ADDT/DDPM recipe, ALGORITHMS.md §8.4):
 *
 *   n-th update (n = 1, 2, ...):  k = max(0, n - updateAfterStep - 1)
 *   decay = 0 if k == 0, else clamp(1 - (1 + k / invGamma)^(-power), minDecay, maxDecay)
 *   shadow <- shadow - (1 - decay) * (shadow - param)
 *
 * So the first update copies the weights, and with power 3/4 the decay reaches ~0.9994 after 20k steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError, type OptionsOf } from '@dbp-bench/framework';
import type { NamedParam } from './optim';

export const emaSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'EMA of the weights (diffusers EMAModel semantics); the final weights are the EMA weights when enabled.',
  properties: {
    enabled: { type: 'boolean', default: false },
    maxDecay: { type: 'number', minimum: 0, maximum: 1, default: 0.9999 },
    minDecay: { type: 'number', minimum: 0, maximum: 1, default: 0 },
    warmup: { type: 'boolean', default: true },
    power: { type: 'number', exclusiveMinimum: 0, default: 0.75 },
    invGamma: { type: 'number', exclusiveMinimum: 0, default: 1 },
    updateAfterStep: { type: 'integer', minimum: 0, default: 0 },
  },
} as const;

/**
 * The EMA options (the schema above, defaults filled). `warmup` on: decay = 1 - (1 + k/invGamma)^-power;
 * off: decay = maxDecay from the second update.
 */
export type EmaOptions = OptionsOf<typeof emaSchema>;

/** The decay used by the `n`-th EMA update (1-based). */
export function emaDecay(o: EmaOptions, n: number): number {
  const k = Math.max(0, n - o.updateAfterStep - 1);
  if (k <= 0) return 0;
  const value = o.warmup ? 1 - Math.pow(1 + k / o.invGamma, -o.power) : o.maxDecay;
  return Math.max(o.minDecay, Math.min(value, o.maxDecay));
}

/** Shadow copies of a list of parameters, updated after each optimizer step. */
export class Ema {
  private n = 0;
  readonly shadow: tf.Variable[];
  constructor(
    readonly options: EmaOptions,
    readonly params: readonly NamedParam[],
  ) {
    this.shadow = params.map((p) => tf.tidy(() => tf.variable(p.variable.clone(), false, undefined, 'float32')));
  }
  get updates(): number {
    return this.n;
  }
  update(): number {
    this.n++;
    const decay = emaDecay(this.options, this.n);
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const s = this.shadow[i];
        s.assign(tf.sub(s, tf.mul(tf.sub(s, p.variable), 1 - decay)));
      });
    });
    return decay;
  }
  /** The shadow weights by parameter name (live views; do not dispose). */
  stateTensors(): Map<string, tf.Tensor> {
    return new Map(this.params.map((p, i) => [p.name, this.shadow[i]]));
  }
  loadState(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, updates: number, source: string): void {
    this.params.forEach((p, i) => {
      const saved = tensors.get(p.name);
      if (!saved) throw new DbpError('E_FORMAT', `${source}: EMA weight '${p.name}' is missing`);
      tf.tidy(() => this.shadow[i].assign(tf.tensor(saved.data, p.variable.shape, 'float32')));
    });
    this.n = updates;
  }
  /**
   * Run `fn` with the EMA weights swapped into the parameters, then restore the training weights
   * exactly (used to save or evaluate the EMA model).
   */
  async withShadowWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    const backup = this.params.map((p) => p.variable.clone());
    try {
      this.params.forEach((p, i) => p.variable.assign(this.shadow[i]));
      return await fn();
    } finally {
      this.params.forEach((p, i) => p.variable.assign(backup[i]));
      backup.forEach((b) => b.dispose());
    }
  }
  dispose(): void {
    this.shadow.forEach((s) => s.dispose());
  }
}
