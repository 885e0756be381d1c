/**
 * An external dbp-bench plugin: the `noise-blur` defense adds Gaussian noise of standard deviation
 * `sigma` and smooths with a 3x3 box blur. It is a toy randomized purifier that shows everything a
 * researcher's own defense needs: an id, a JSON Schema with defaults, capabilities, and purify()
 * drawing its randomness from the NoiseSource (so EoT, DW-box replay, resume and shards work).
 * purify() is differentiable, so the capabilities list `exact`; BPDA needs nothing from the defense
 * (the attack target applies it to every defense).
 *
 * Build it (`npm run build` at the repository root, or `tsc -b` here) and load it with
 * `dbp-bench --plugin ./examples/custom-defense ...` or a `plugins` entry in a run config.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  Defense,
  DefenseCapabilities,
  NoiseSource,
  PluginContext,
  PluginModule,
  PluginRegistry,
} from '@dbp-bench/framework';

export interface NoiseBlurOptions {
  /** Standard deviation of the added noise, in [0,1] pixel units. */
  sigma: number;
  /** Blur passes after the noise. */
  passes: number;
}

export class NoiseBlurDefense implements Defense {
  static readonly kind = 'defense' as const;
  static readonly id = 'noise-blur';
  static readonly description = 'Example plugin: Gaussian noise (sigma) then a 3x3 box blur';
  static readonly schema = {
    type: 'object',
    additionalProperties: false,
    properties: {
      sigma: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: 'noise standard deviation (pixel units)' },
      passes: { type: 'integer', minimum: 1, maximum: 8, default: 1, description: 'number of blur passes' },
    },
  };

  readonly id = NoiseBlurDefense.id;
  readonly capabilities: DefenseCapabilities;

  constructor(readonly options: Readonly<NoiseBlurOptions>, _ctx?: PluginContext) {
    this.capabilities = {
      stochastic: options.sigma > 0,
      streams: options.sigma > 0 ? ['forward'] : [],
      gradientModes: ['exact'],
      networkCalls: 0,
    };
  }

  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    return tf.tidy(() => {
      const c = x.shape[3];
      let y: tf.Tensor4D = x;
      if (this.options.sigma > 0) {
        const n = noise.normal({ kind: 'forward' }, x.shape);
        y = tf.add(y, tf.mul(n, this.options.sigma));
      }
      const kernel = tf.fill([3, 3, c, 1], 1 / 9) as tf.Tensor4D;
      for (let i = 0; i < this.options.passes; i++) y = tf.depthwiseConv2d(y, kernel, 1, 'same');
      return tf.clipByValue(y, 0, 1);
    });
  }
}

/** The plugin module: dbp-bench calls register() when it loads this package. */
export function register(registry: PluginRegistry): void {
  registry.add(NoiseBlurDefense);
}

export const plugin: PluginModule = { name: 'dbp-bench-example-custom-defense', register };
