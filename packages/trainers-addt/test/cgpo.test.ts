/** ALGORITHMS.md §13 items 22-23: the ADDT loss with gamma = 0, CGPO accumulation; the ablations. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, hash32, type Classifier, type EpsModel } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, createClassifier, type ClassifierModel } from '@dbp-bench/models';
import { alphasCumprod, linearBetas } from '@dbp-bench/defenses-dbp';
import {
  addtLoss,
  cgpo,
  classifierLossOnX0,
  coefsFor,
  ddpmLoss,
  disposeCoefs,
  mixedNoise,
  noised,
  rbgm,
  x0Estimate,
  x0Pgd,
  type NoiseFn,
} from '../src';

const abar = alphasCumprod(linearBetas(1000));

/** Counts network calls. */
class Counting<T extends object> {
  calls = 0;
  constructor(readonly inner: T) {}
}
function countingEps(m: EpsModel): EpsModel & { calls: number } {
  const c = new Counting(m);
  return Object.assign(c, { predictEps: (x: tf.Tensor4D, t: tf.Tensor1D) => (c.calls++, m.predictEps(x, t)) });
}
function countingClassifier(m: Classifier): Classifier & { calls: number } {
  const c = new Counting(m);
  return Object.assign(c, { numClasses: m.numClasses, logits: (x: tf.Tensor4D) => (c.calls++, m.logits(x)) });
}

/** Deterministic standard normals keyed by (iteration, purpose). */
function keyedNoise(shape: [number, number, number, number]): NoiseFn {
  return (k, purpose) => tf.randomNormal(shape, 0, 1, 'float32', (hash32(`${purpose}:${k}`) % 1000003) + 1) as tf.Tensor4D;
}

describe('trainers-addt: ADDT losses and CGPO (§13 items 22-23)', function () {
  this.timeout(120000);
  let unet: UNet;
  let clf: ClassifierModel;
  const shape: [number, number, number, number] = [2, 16, 16, 3];
  let x0: tf.Tensor4D;
  let labels: tf.Tensor1D;
  before(() => {
    unet = new UNet({ ...UNET_PRESETS.tiny }, 1);
    clf = createClassifier(
      'small-cnn',
      { numClasses: 10, inputShape: [16, 16, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channels: [8, 8], hidden: 16 },
      2,
    );
    clf.setTraining(false);
    const rng = new SeededRng(11);
    x0 = tf.tensor4d(
      Float32Array.from({ length: 2 * 16 * 16 * 3 }, () => rng.uniform() * 2 - 1),
      shape,
    );
    labels = tf.tensor1d([3, 7], 'int32');
  });
  after(() => {
    unet.dispose();
    clf.dispose();
    x0.dispose();
    labels.dispose();
  });

  it('item 22: with gamma = 0 the ADDT loss is exactly the DDPM loss mean((eps_theta(x_t,t) - eps)^2)', () => {
    const t = [37, 512];
    const c0 = coefsFor(t, abar, { scale: 0.03, max: 0 });
    const c1 = coefsFor(t, abar);
    const eps = tf.randomNormal(shape, 0, 1, 'float32', 5) as tf.Tensor4D;
    const ed = tf.randomNormal(shape, 0, 1, 'float32', 6) as tf.Tensor4D;
    const addt0 = tf.tidy(() => addtLoss(unet, x0, eps, ed, c0).dataSync()[0]);
    const ddpm = tf.tidy(() => ddpmLoss(unet, x0, eps, c0).dataSync()[0]);
    expect(addt0).to.equal(ddpm);
    // with the default gamma the losses differ (so the check above is not vacuous)
    const addt1 = tf.tidy(() => addtLoss(unet, x0, eps, ed, c1).dataSync()[0]);
    expect(addt1).to.not.equal(ddpm);
    // and by hand: eps' = sqrt(1-g^2) eps + g ed; x_t = sqrt(a) x0 + sqrt(1-a) eps'
    const manual = tf.tidy(() => {
      const ep = mixedNoise(eps, ed, c1);
      return tf.mean(tf.squaredDifference(unet.predictEps(noised(x0, ep, c1), c1.t), ep)).dataSync()[0];
    });
    expect(addt1).to.equal(manual);
    [eps, ed].forEach((x) => x.dispose());
    disposeCoefs(c0);
    disposeCoefs(c1);
  });

  it('item 23: G is the sum of the per-iteration gradients (not reset), with exactly K gradient evaluations', () => {
    const K = 3;
    const c = coefsFor([20, 150], abar);
    const noise = keyedNoise(shape);
    const model = countingEps(unet);
    const classifier = countingClassifier(clf);
    const grads: tf.Tensor4D[] = [];
    const before = tf.memory().numTensors;
    const r = cgpo({
      model,
      classifier,
      x0,
      labels,
      coefs: c,
      iterations: K,
      objective: 'ce',
      noise,
      onGradient: (_k, g) => grads.push(g.clone()),
    });
    expect(r.gradientEvaluations).to.equal(K);
    expect(model.calls).to.equal(K);
    expect(classifier.calls).to.equal(K);
    expect(grads.length).to.equal(K);
    expect(tf.memory().numTensors).to.equal(before + 2 + K); // epsDelta, G, and the clones kept here
    // G == g_0 + g_1 + g_2 (same summation order: exact)
    const sum = tf.tidy(() => grads.reduce((a, g) => tf.add(a, g) as tf.Tensor4D, tf.zerosLike(x0) as tf.Tensor4D));
    expect(Array.from(r.G.dataSync())).to.deep.equal(Array.from(sum.dataSync()));
    expect(tf.tidy(() => tf.max(tf.abs(r.G)).dataSync()[0])).to.be.greaterThan(0);
    // each gradient is d CE(C(x0_hat/2+0.5)) / d eps_delta at eps_delta_k = RBGM(g_0 + ... + g_{k-1}) (k > 0)
    for (let k = 0; k < K; k++) {
      const edk =
        k === 0
          ? noise(0, 'init')
          : tf.tidy(() =>
              rbgm(
                grads.slice(0, k).reduce((a, g) => tf.add(a, g) as tf.Tensor4D, tf.zerosLike(x0) as tf.Tensor4D),
                noise(k - 1, 'rbgm'),
              ),
            );
      const eps = noise(k, 'eps');
      const g = tf.tidy(() =>
        tf.grad((ed: tf.Tensor) => {
          const xt = noised(x0, mixedNoise(eps, ed as tf.Tensor4D, c), c);
          return classifierLossOnX0(clf, x0Estimate(xt, unet.predictEps(xt, c.t), c), labels);
        })(edk),
      );
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(g, grads[k]))).dataSync()[0]);
      const scale = tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]);
      expect(diff).to.be.at.most(1e-6 * Math.max(1, scale));
      [edk, eps, g].forEach((x) => x.dispose());
    }
    // the result is RBGM(G) with the last iteration's sample
    const expected = tf.tidy(() => rbgm(r.G, noise(K - 1, 'rbgm')));
    expect(Array.from(r.epsDelta.dataSync())).to.deep.equal(Array.from(expected.dataSync()));
    [r.G, r.epsDelta, sum, expected, ...grads].forEach((x) => x.dispose());
    disposeCoefs(c);
  });

  it('ablation no-guidance: CGPO ascends the denoising error without calling a classifier', () => {
    const c = coefsFor([300, 5], abar);
    const classifier = countingClassifier(clf);
    const model = countingEps(unet);
    const r = cgpo({ model, classifier, x0, labels, coefs: c, iterations: 2, objective: 'denoise', noise: keyedNoise(shape) });
    expect(classifier.calls).to.equal(0);
    expect(model.calls).to.equal(2);
    expect(r.lastObjective).to.be.greaterThan(0);
    [r.G, r.epsDelta].forEach((x) => x.dispose());
    disposeCoefs(c);
  });

  it('the classifier loss and the no-rbgm x0-space PGD equal the formulas written out, bit for bit', () => {
    // CE and the sign step come from the framework's losses and geometry (shared with the attacks).
    const same = (a: tf.Tensor, b: tf.Tensor): boolean => {
      const p = a.dataSync();
      const q = b.dataSync();
      return p.length === q.length && p.every((v, i) => Object.is(v, q[i]));
    };
    const ce = (z: tf.Tensor): tf.Scalar =>
      tf.neg(
        tf.mean(tf.sum(tf.mul(tf.oneHot(labels, 10), tf.logSoftmax(clf.logits(tf.add(tf.mul(z, 0.5), 0.5) as tf.Tensor4D))), 1)),
      ) as tf.Scalar;
    const a = tf.valueAndGrad((z: tf.Tensor) => classifierLossOnX0(clf, z as tf.Tensor4D, labels))(x0);
    const b = tf.valueAndGrad(ce)(x0);
    expect(same(a.value, b.value)).to.equal(true);
    expect(same(a.grad, b.grad)).to.equal(true);
    const c = coefsFor([10, 400], abar);
    const noise = keyedNoise(shape);
    const o = { eps: 8 / 255, stepSize: 4 / 255, rMax: 10 };
    const r = x0Pgd({ model: unet, classifier: clf, x0, labels, coefs: c, iterations: 2, noise, options: o });
    const ref = tf.tidy(() => {
      let delta: tf.Tensor = tf.zerosLike(x0);
      for (let k = 0; k < 2; k++) {
        const eps = noise(k, 'eps');
        const g = tf.grad((d: tf.Tensor) => {
          const xt = noised(x0, tf.add(eps, tf.mul(c.r, d)) as tf.Tensor4D, c);
          return classifierLossOnX0(clf, x0Estimate(xt, unet.predictEps(xt, c.t), c), labels);
        })(delta);
        const d = tf.clipByValue(tf.add(delta, tf.mul(tf.sign(g), 2 * o.stepSize)), -2 * o.eps, 2 * o.eps);
        delta = tf.sub(tf.clipByValue(tf.add(x0, d), -1, 1), x0);
      }
      return delta;
    });
    expect(same(r.delta, ref)).to.equal(true);
    tf.dispose([a.value, a.grad, b.value, b.grad, r.delta, ref]);
    disposeCoefs(c);
  });

  it('ablation no-rbgm: x0-space l_inf PGD stays within 8/255 (16/255 in [-1,1]) and the box', () => {
    const c = coefsFor([10, 400], abar);
    const r = x0Pgd({
      model: unet,
      classifier: clf,
      x0,
      labels,
      coefs: c,
      iterations: 3,
      noise: keyedNoise(shape),
      options: { eps: 8 / 255, stepSize: 4 / 255, rMax: 10 },
    });
    expect(r.gradientEvaluations).to.equal(3);
    const [maxAbs, lo, hi] = tf.tidy(() => {
      const x = tf.add(x0, r.delta);
      return [tf.max(tf.abs(r.delta)).dataSync()[0], tf.min(x).dataSync()[0], tf.max(x).dataSync()[0]];
    });
    expect(maxAbs).to.be.at.most(16 / 255 + 1e-6);
    expect(maxAbs).to.be.greaterThan(8 / 255); // two sign steps of 8/255 moved somewhere
    expect(lo).to.be.at.least(-1 - 1e-6);
    expect(hi).to.be.at.most(1 + 1e-6);
    // r_t = clip(1/sigma_t, 0, 10): t = 10 has sigma < 0.1 -> r clipped to 10; t = 400 -> 1/sigma
    const rv = c.r.dataSync();
    expect(rv[0]).to.equal(10);
    expect(rv[1]).to.be.closeTo(Math.sqrt(abar[400] / (1 - abar[400])), 1e-5);
    r.delta.dispose();
    disposeCoefs(c);
  });
});
