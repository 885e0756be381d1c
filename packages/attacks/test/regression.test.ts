/**
 * Regression of whole attack runs on the committed demo weights (weights/mnist/small-cnn.safetensors,
 * ddpm-mnist.safetensors) and the bundled MNIST test images: PGD and DW-box with BPDA must equal the
 * update loop written out here op by op (ALGORITHMS.md §6.1, §6.2, §7), bit for bit. The framework's
 * target, geometry and losses are shared by many callers; a change of operation order in any of them
 * shows up here.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KeyedNoiseSource, MemoryLogger, createTarget, randomStart, type Classifier, type Norm } from '@dbp-bench/framework';
import { MnistDataset } from '@dbp-bench/datasets';
import { DpDdpm, IdentityDefense } from '@dbp-bench/defenses-dbp';
import { loadClassifier, loadUNet, type ClassifierModel, type UNet } from '@dbp-bench/models';
import { DwBoxAttack, PgdAttack } from '../src';

const WEIGHTS = path.resolve(__dirname, '..', '..', '..', '..', 'weights', 'mnist');

const same = (a: tf.Tensor, b: tf.Tensor): boolean => {
  const x = a.dataSync();
  const y = b.dataSync();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

/** sum over rows of -log softmax(z)_y, written out. */
function ceSum(logits: tf.Tensor2D, y: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.sum(tf.neg(tf.sum(tf.mul(tf.oneHot(y, classes).toFloat(), tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

/** One PGD update of ALGORITHMS.md §6.1 / §6.2, written out. */
function step(x: tf.Tensor4D, adv: tf.Tensor4D, g: tf.Tensor, norm: Norm, eps: number, a: number): tf.Tensor4D {
  return tf.tidy(() => {
    const l2 = (t: tf.Tensor): tf.Tensor => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
    const delta = tf.sub(adv, x);
    let moved: tf.Tensor;
    if (norm === 'linf') moved = tf.clipByValue(tf.add(delta, tf.mul(tf.sign(g), a)), -eps, eps);
    else {
      const m = tf.add(delta, tf.mul(tf.div(g, tf.add(l2(g), 1e-10)), a));
      moved = tf.mul(m, tf.minimum(1, tf.div(eps, l2(m))));
    }
    return tf.clipByValue(tf.add(x, moved), 0, 1) as tf.Tensor4D;
  });
}

describe('attack regression on the demo weights (bit for bit against the written-out loop)', function () {
  this.timeout(120000);
  let clf: ClassifierModel;
  let unet: UNet;
  let x: tf.Tensor4D;
  let y: tf.Tensor1D;
  const idx = [0, 1, 2, 3];
  before(async () => {
    clf = await loadClassifier(path.join(WEIGHTS, 'small-cnn.safetensors'));
    unet = await loadUNet(path.join(WEIGHTS, 'ddpm-mnist.safetensors'));
    const b = await new MnistDataset({ split: 'test' }).get(idx);
    x = b.images;
    y = tf.tensor1d(b.labels, 'int32');
  });
  after(() => {
    tf.dispose([x, y]);
    clf.dispose();
    unet.dispose();
  });

  for (const [norm, eps, a] of [
    ['linf', 0.3, 0.1],
    ['l2', 2, 0.5],
  ] as [Norm, number, number][]) {
    it(`PGD ${norm} with a random start on the undefended SmallCNN`, async () => {
      const target = createTarget(clf, new IdentityDefense(), { seed: 3 });
      const attack = new PgdAttack({ norm, eps, stepSize: a, steps: 4, randomStart: true, eot: { samples: 1 } });
      const got = await attack.perturb(target, x, y, { logger: new MemoryLogger(), sampleIndices: idx, seed: 3 });
      let adv = randomStart(x, idx, norm, eps, 3, 0);
      for (let k = 0; k < 4; k++) {
        const g = tf.grad((z: tf.Tensor) => ceSum(clf.logits(z as tf.Tensor4D), y, 10))(adv);
        const next = step(x, adv, g, norm, eps, a);
        tf.dispose([g, adv]);
        adv = next;
      }
      expect(same(got, adv)).to.equal(true);
      expect(same(got, x)).to.equal(false);
      tf.dispose([got, adv]);
    });
  }

  it("DW_Both with the target's BPDA on DP_DDPM: the classifier gradient at the keyed purification", async () => {
    const defense = new DpDdpm(unet, { numInferenceSteps: 50 });
    const target = createTarget(clf, defense, { policy: 'both', seed: 5, gradient: 'bpda' });
    const attack = new DwBoxAttack({ policy: 'both', norm: 'l2', eps: 2, stepSize: 0.5, steps: 2 });
    const got = await attack.perturb(target, x, y, { logger: new MemoryLogger(), sampleIndices: idx, seed: 5 });
    const keyed = new KeyedNoiseSource(
      5,
      idx.map((sample) => ({ sample, eot: 0 })),
    );
    let adv = x.clone();
    for (let k = 0; k < 2; k++) {
      const purified = defense.purify(adv, keyed);
      const g = tf.grad((p: tf.Tensor) => ceSum((clf as Classifier).logits(p as tf.Tensor4D), y, 10))(purified);
      const next = step(x, adv, g, 'l2', 2, 0.5);
      tf.dispose([purified, g, adv]);
      adv = next;
    }
    expect(same(got, adv)).to.equal(true);
    expect(same(got, x)).to.equal(false);
    tf.dispose([got, adv]);
  });
});
