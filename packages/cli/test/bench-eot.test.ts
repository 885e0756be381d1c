/**
 * The eot bench's comparison (src/bench/eot.ts) is between two ways of computing the same number: an
 * EoT-K exact gradient through a DBP chain with the K replicas batched in one pass equals the sum of
 * K one-row gradients on the same noise draws (every op of the chain and the classifier is per row).
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { createTarget, crossEntropyLoss, type NoiseRow } from '@dbp-bench/framework';
import { createClassifier, defaultClassifierConfig, UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DpDdim, DpDdpm } from '@dbp-bench/defenses-dbp';
import { eotGradient } from '../src/bench/eot';

describe('bench: batched EoT replicas are exact', function () {
  this.timeout(120000);

  for (const [id, make] of [
    ['dp-ddpm', (u: UNet) => new DpDdpm(u, { numInferenceSteps: 20 })],
    ['dp-ddim', (u: UNet) => new DpDdim(u, { numInferenceSteps: 20 })],
  ] as const) {
    it(`${id}: the EoT-3 gradient of one image (3 rows in one pass) equals the sum of 3 one-row gradients on the same draws`, () => {
      const unet = new UNet(UNET_PRESETS.tiny, 0);
      const classifier = createClassifier('resnet20', defaultClassifierConfig('resnet20'), 1);
      const d = make(unet);
      const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const y = tf.tensor1d([2], 'int32');
      try {
        // fresh noise on a new target: the first draw of row {sample 0, eot k} is the same in both computations
        const fresh = () => createTarget(classifier, d, { policy: 'fresh', seed: 7, gradient: 'exact' });
        const before = tf.memory().numTensors;
        const batched = eotGradient(fresh(), x, y, 3);
        const one = (row: NoiseRow): tf.Tensor =>
          tf.grad((xx: tf.Tensor) => tf.sum(crossEntropyLoss(classifier.logits(d.purify(xx as tf.Tensor4D, fresh().noise([row]))), y)))(x);
        const rows = [0, 1, 2].map((eot) => one({ sample: 0, eot }));
        const sequential = tf.addN(rows);
        const [diff, scale] = tf.tidy(() =>
          [tf.max(tf.abs(tf.sub(batched, sequential))), tf.max(tf.abs(sequential))].map((t) => t.dataSync()[0]),
        );
        expect(scale).to.be.greaterThan(0);
        expect(diff / scale).to.be.lessThan(1e-5);
        // and the replicas differ: a sum of 3 identical gradients would not test the batching
        const [r0, r1] = rows;
        expect(tf.tidy(() => tf.max(tf.abs(tf.sub(r0, r1))).dataSync()[0])).to.be.greaterThan(1e-3 * scale);
        tf.dispose([batched, sequential, ...rows]);
        expect(tf.memory().numTensors).to.equal(before);
      } finally {
        tf.dispose([x, y]);
        classifier.dispose();
        unet.dispose();
      }
    });
  }
});
