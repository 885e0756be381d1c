/**
 * The undefended baseline: purify(x) = x. Deterministic, draws no noise, exact gradient = identity.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ShapeMismatchError,
  definePlugin,
  type Defense,
  type DefenseCapabilities,
  type JsonSchema,
  type NoiseSource,
} from '@dbp-bench/framework';

const identity = definePlugin({
  kind: 'defense',
  id: 'identity',
  description: 'No defense: purify(x) = x (the undefended baseline).',
  schema: { type: 'object', additionalProperties: false, properties: {} },
  create: () => new IdentityDefense(),
});
export default identity;

/** The JSON Schema of the identity plugin's options (none). */
export const IDENTITY_SCHEMA: JsonSchema = identity.schema;

export class IdentityDefense implements Defense {
  readonly id = 'identity';
  readonly capabilities: DefenseCapabilities = Object.freeze({
    stochastic: false,
    streams: Object.freeze([]) as DefenseCapabilities['streams'],
    gradientModes: Object.freeze(['exact']) as DefenseCapabilities['gradientModes'],
    networkCalls: 0,
  });

  /** Returns a copy of x (differentiable; the caller owns and disposes it). */
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    if (x.rank !== 4)
      throw new ShapeMismatchError(`identity.purify: expected an NHWC image batch (rank 4), got shape [${x.shape.join(',')}]`);
    if (noise.rows.length !== x.shape[0]) {
      throw new ShapeMismatchError(
        `identity.purify: the noise source is bound to ${noise.rows.length} rows but the batch has ${x.shape[0]} images`,
      );
    }
    return tf.clone(x);
  }
}
