/**
 * Gradient mode `surrogate` (ALGORITHMS.md §14.3): the gradient and the loss that steers the step come
 * from the defense's surrogate twin, but the in-loop verdicts an attack reports (replica predictions →
 * step hook → the runner's any-iteration counts) judge the defended process at the same point.
 * Toy: the defended process is the identity, its surrogate maps x to 1 − x, and the classifier's
 * logits are [m, 1 − m] with m the mean pixel, so the two processes disagree on every image.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { createTarget, type Classifier, type Defense, type DefenseCapabilities } from '@dbp-bench/framework';
import { estimateGradient } from '../src';

class MeanClassifier implements Classifier {
  readonly numClasses = 2;
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const m = tf.mean(x, [1, 2, 3]).reshape([-1, 1]);
      return tf.concat([m, tf.sub(1, m)], 1) as tf.Tensor2D;
    });
  }
}

class Flip implements Defense {
  readonly id = 'toy-flip';
  readonly capabilities: DefenseCapabilities = { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    return tf.sub(1, x) as tf.Tensor4D;
  }
}

class IdentityWithSurrogate implements Defense {
  readonly id = 'toy-identity-surrogate';
  readonly capabilities: DefenseCapabilities = { stochastic: false, streams: [], gradientModes: ['exact', 'surrogate'], networkCalls: 0 };
  purified = 0;
  purify(x: tf.Tensor4D): tf.Tensor4D {
    this.purified += x.shape[0];
    return x.clone();
  }
  surrogate(): Defense {
    return new Flip();
  }
}

describe('surrogate gradients: in-loop verdicts from the defended process (§14.3)', () => {
  it('the gradient and loss are the surrogate’s, the replica predictions the defended process’s; no tensor leaks', () => {
    const x = tf.fill([3, 4, 4, 1], 0.2) as tf.Tensor4D; // mean 0.2: defended → class 1, surrogate (0.8) → class 0
    const y = tf.tensor1d([1, 1, 0], 'int32');
    const idx = [0, 1, 2];
    const defense = new IdentityWithSurrogate();
    const target = createTarget(new MeanClassifier(), defense, { policy: 'fresh', seed: 3 });
    const opts = { eot: { samples: 2, microBatch: 8 }, loss: 'ce' as const, gradient: 'surrogate' as const };
    estimateGradient(target, x, y, idx, opts).grad.dispose(); // warm-up
    const before = tf.memory().numTensors;
    defense.purified = 0;
    const est = estimateGradient(target, x, y, idx, opts);
    // verdicts: the defended process (identity) predicts class 1 on every replica
    expect([...est.replicaPred]).to.deep.equal([1, 1, 1, 1, 1, 1]);
    expect([...est.correctFraction]).to.deep.equal([1, 1, 0]);
    expect(defense.purified).to.equal(6); // one defended purification per replica, nothing more
    // gradient and loss: exactly those of the surrogate process, differentiated as an exact defense
    const ref = estimateGradient(createTarget(new MeanClassifier(), new Flip(), { policy: 'fresh', seed: 3 }), x, y, idx, {
      ...opts,
      gradient: 'exact',
    });
    expect([...est.replicaLoss]).to.deep.equal([...ref.replicaLoss]);
    expect([...est.grad.dataSync()]).to.deep.equal([...ref.grad.dataSync()]);
    expect([...ref.replicaPred]).to.deep.equal([0, 0, 0, 0, 0, 0]); // the surrogate's own verdicts differ
    tf.dispose([est.grad, ref.grad]);
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([x, y]);
  });
});
