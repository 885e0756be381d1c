/**
 * The `noise-blur` defense: Gaussian noise of standard deviation `sigma`, then `passes` 3x3 box
 * blurs. A toy randomized purifier that shows everything a researcher's own defense needs: one
 * definition (kind, id, description, the options' JSON Schema with defaults, create), capabilities,
 * and purify() drawing its randomness from the NoiseSource (so EoT, DW-box replay, resume and shards
 * work). purify() is differentiable, so the capabilities list `exact`; BPDA needs nothing from the
 * defense (the attack target applies it to every defense).
 */
import * as tf from '@tensorflow/tfjs-core';
import { definePlugin, type Defense, type DefenseCapabilities, type NoiseSource, type OptionsOf } from '@dbp-bench/framework';

/** The options: the only place their names, types and defaults are written. */
const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sigma: { type: 'number', minimum: 0, maximum: 1, default: 0.1, description: 'noise standard deviation (pixel units)' },
    passes: { type: 'integer', minimum: 1, maximum: 8, default: 1, description: 'number of blur passes' },
  },
} as const;

/** `{ sigma: number; passes: number }`, derived from the schema (both have defaults, so both are present). */
export type NoiseBlurOptions = OptionsOf<typeof schema>;

export class NoiseBlurDefense implements Defense {
  readonly id = 'noise-blur';
  readonly capabilities: DefenseCapabilities;

  constructor(readonly options: NoiseBlurOptions) {
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

export default definePlugin({
  kind: 'defense',
  id: 'noise-blur',
  description: 'Example plugin: Gaussian noise (sigma) then a 3x3 box blur',
  schema,
  create: (options) => new NoiseBlurDefense(options),
});
