// The threat geometry and the losses: hand-computed values, and bit-for-bit agreement with the update
// rules written out op by op (ALGORITHMS.md §6.1, §6.2; Madry et al. 2018 for the trainers' form), so
// a change of operation order in the one shared implementation shows up here.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  SeededRng,
  ascend,
  ascentDirection,
  batchRandomStart,
  crossEntropyLoss,
  klSum,
  l2Norm,
  linfNorm,
  meanCrossEntropy,
  normalizePerSample,
  perSampleNorms,
  pgdStep,
  projectBall,
  projectOntoThreat,
  randomStart,
  type Norm,
} from '../src';

const same = (a: tf.Tensor, b: tf.Tensor): boolean => {
  const x = a.dataSync();
  const y = b.dataSync();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

function batch(seed: number, lo = 0, hi = 1): tf.Tensor4D {
  const rng = new SeededRng(seed, 'geometry-test');
  return tf.tensor4d(
    Float32Array.from({ length: 3 * 4 * 4 * 2 }, () => lo + (hi - lo) * rng.uniform()),
    [3, 4, 4, 2],
  );
}

describe('threat geometry', () => {
  it('norms, normalisation and the l2 ball projection on a 3-4-5 example', () => {
    const d = tf.tensor4d([3, 4, 0, 0, -6, 8, 0, 0], [2, 2, 2, 1]);
    expect(Array.from(perSampleNorms(d, 'l2'))).to.deep.equal([5, 10]);
    expect(Array.from(perSampleNorms(d, 'linf'))).to.deep.equal([4, 8]);
    const p = projectBall(d, 'l2', 5);
    expect(Array.from(p.dataSync())).to.deep.equal([3, 4, 0, 0, -3, 4, 0, 0]);
    const q = projectBall(d, 'linf', 5);
    expect(Array.from(q.dataSync())).to.deep.equal([3, 4, 0, 0, -5, 5, 0, 0]);
    const u = normalizePerSample(d, 'l2', 0);
    expect(Array.from(u.dataSync()).map((v) => Math.round(v * 1e6) / 1e6)).to.deep.equal([0.6, 0.8, 0, 0, -0.6, 0.8, 0, 0]);
    // a zero delta stays zero in the l2 projection (eps/0 = inf, factor 1), with or without a guard
    const z = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
    expect(Array.from(projectBall(z, 'l2', 0.5).dataSync())).to.deep.equal([0, 0, 0, 0]);
    expect(Array.from(projectBall(z, 'l2', 0.5, 1e-10).dataSync())).to.deep.equal([0, 0, 0, 0]);
    tf.dispose([d, p, q, u, z]);
  });

  it('the l_inf step direction is the sign, down to subnormal gradient entries; l2 a zero gradient gives no NaN', () => {
    const g = tf.tensor4d([1e-40, -1e-40, 0, 3e-38, -2, 5, -0, 1e-7], [1, 2, 2, 2]);
    expect(Array.from(ascentDirection(g, 'linf').dataSync())).to.deep.equal([1, -1, 0, 1, -1, 1, 0, 1]);
    const zero = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D;
    expect(Array.from(ascentDirection(zero, 'l2').dataSync())).to.deep.equal([0, 0, 0, 0, 0, 0, 0, 0]);
    tf.dispose([g, zero]);
  });

  for (const norm of ['linf', 'l2'] as Norm[]) {
    it(`${norm}: pgdStep equals the ADDT update written out, bit for bit`, () => {
      const x = batch(1);
      const xAdv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.sub(batch(2), 0.5), 0.1)), 0, 1) as tf.Tensor4D);
      const g = batch(3, -1, 1);
      const [eps, a] = norm === 'linf' ? [8 / 255, 2 / 255] : [0.5, 0.1];
      const ours = pgdStep(x, xAdv, g, norm, eps, a);
      const ref = tf.tidy(() => {
        const delta = tf.sub(xAdv, x);
        let moved: tf.Tensor;
        if (norm === 'linf') {
          moved = tf.clipByValue(tf.add(delta, tf.mul(tf.sign(g), a)), -eps, eps);
        } else {
          const gn = tf.div(g, tf.add(tf.sqrt(tf.sum(tf.square(g), [1, 2, 3], true)), 1e-10));
          const m = tf.add(delta, tf.mul(gn, a));
          moved = tf.mul(m, tf.minimum(1, tf.div(eps, tf.sqrt(tf.sum(tf.square(m), [1, 2, 3], true)))));
        }
        return tf.clipByValue(tf.add(x, moved), 0, 1);
      });
      expect(same(ours, ref)).to.equal(true);
      const n = perSampleNorms(tf.sub(ours, x) as tf.Tensor4D, norm);
      expect(Math.max(...n)).to.be.at.most(eps + 1e-6);
      tf.dispose([x, xAdv, g, ours, ref]);
    });

    it(`${norm}: ascend then projectOntoThreat (guard 1e-10) equals the Madry-form step written out, bit for bit`, () => {
      const x = batch(4);
      const xAdv = tf.tidy(() => tf.clipByValue(tf.add(x, tf.mul(tf.sub(batch(5), 0.5), 0.2)), 0, 1) as tf.Tensor4D);
      const g = batch(6, -1, 1);
      const [eps, a] = norm === 'linf' ? [0.3, 0.1] : [2, 0.5];
      const ours = projectOntoThreat(ascend(xAdv, g, norm, a), x, norm, eps, 1e-10);
      const ref = tf.tidy(() => {
        const l2 = (t: tf.Tensor): tf.Tensor => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
        const dir = norm === 'linf' ? tf.sign(g) : tf.div(g, tf.add(l2(g), 1e-10));
        const stepped = tf.add(xAdv, tf.mul(dir, a));
        let d = tf.sub(stepped, x);
        d = norm === 'linf' ? tf.clipByValue(d, -eps, eps) : tf.mul(d, tf.minimum(1, tf.div(eps, tf.add(l2(d), 1e-10))));
        return tf.clipByValue(tf.add(x, d), 0, 1);
      });
      expect(same(ours, ref)).to.equal(true);
      tf.dispose([x, xAdv, g, ours, ref]);
    });
  }

  it('keyed random start: inside the ball and the box, per (seed, sample, restart), independent of the batch', () => {
    const x = batch(7);
    for (const [norm, eps] of [
      ['linf', 0.1],
      ['l2', 0.3],
    ] as [Norm, number][]) {
      const a = randomStart(x, [4, 9, 2], norm, eps, 0, 0);
      const b = randomStart(x.slice([1, 0, 0, 0], [1, 4, 4, 2]), [9], norm, eps, 0, 0);
      const c = randomStart(x, [4, 9, 2], norm, eps, 0, 1);
      expect(same(a.slice([1, 0, 0, 0], [1, 4, 4, 2]), b)).to.equal(true);
      expect(same(a, c)).to.equal(false);
      expect(Math.max(...perSampleNorms(tf.sub(a, x) as tf.Tensor4D, norm))).to.be.at.most(eps + 1e-6);
      expect(tf.min(a).dataSync()[0]).to.be.at.least(0);
      expect(tf.max(a).dataSync()[0]).to.be.at.most(1);
      tf.dispose([a, b, c]);
    }
    x.dispose();
  });

  it("batch random start (the trainers'): seeded, inside the ball and the box", () => {
    const x = batch(8);
    for (const [norm, eps] of [
      ['linf', 0.1],
      ['l2', 0.3],
    ] as [Norm, number][]) {
      const a = batchRandomStart(x, norm, eps, 5, 1e-10);
      const b = batchRandomStart(x, norm, eps, 5, 1e-10);
      expect(same(a, b)).to.equal(true);
      expect(Math.max(...perSampleNorms(tf.sub(a, x) as tf.Tensor4D, norm))).to.be.at.most(eps + 1e-6);
      expect(Math.max(...perSampleNorms(tf.sub(a, x) as tf.Tensor4D, norm))).to.be.greaterThan(0);
      tf.dispose([a, b]);
    }
    x.dispose();
  });

  it('leaks no tensors', () => {
    const x = batch(9);
    const g = batch(10, -1, 1);
    const run = (): void => {
      for (const norm of ['linf', 'l2'] as Norm[]) {
        pgdStep(x, x, g, norm, 0.1, 0.05).dispose();
        tf.tidy(() => projectOntoThreat(ascend(x, g, norm, 0.05), x, norm, 0.1, 1e-10)).dispose();
        randomStart(x, [0, 1, 2], norm, 0.1, 1, 0).dispose();
        batchRandomStart(x, norm, 0.1, 1).dispose();
        l2Norm(x).dispose();
        linfNorm(x).dispose();
      }
    };
    run();
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([x, g]);
  });
});

describe('losses', () => {
  const logits = (): tf.Tensor2D => tf.tensor2d([2, -1, 0.5, 0.1, 0.2, 3, -4, 1, 1], [3, 3]);
  const labels = (): tf.Tensor1D => tf.tensor1d([0, 2, 1], 'int32');

  it('cross-entropy per row is -log softmax_y (hand-computed), its mean the training loss', () => {
    const z = logits();
    const y = labels();
    const ce = Array.from(crossEntropyLoss(z, y).dataSync());
    const rows = [
      [2, -1, 0.5],
      [0.1, 0.2, 3],
      [-4, 1, 1],
    ];
    const expected = rows.map((r, i) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0)) - r[[0, 2, 1][i]]);
    ce.forEach((v, i) => expect(v).to.be.closeTo(expected[i], 1e-6));
    expect(meanCrossEntropy(z, y).dataSync()[0]).to.be.closeTo(expected.reduce((a, b) => a + b, 0) / 3, 1e-6);
    tf.dispose([z, y]);
  });

  it('meanCrossEntropy equals -mean(sum(onehot * logSoftmax)) bit for bit, value and gradient', () => {
    const z = logits();
    const y = labels();
    const old = (l: tf.Tensor2D): tf.Scalar => tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, 3), tf.logSoftmax(l)), 1))) as tf.Scalar;
    const a = tf.valueAndGrad((l: tf.Tensor) => tf.mul(meanCrossEntropy(l as tf.Tensor2D, y), 3) as tf.Scalar)(z);
    const b = tf.valueAndGrad((l: tf.Tensor) => tf.mul(old(l as tf.Tensor2D), 3) as tf.Scalar)(z);
    expect(same(a.value, b.value)).to.equal(true);
    expect(same(a.grad, b.grad)).to.equal(true);
    tf.dispose([z, y, a.value, a.grad, b.value, b.grad]);
  });

  it('klSum is sum p (log p - log softmax(z)) (hand-computed), 0 for equal distributions', () => {
    const z = logits();
    const p = tf.softmax(z) as tf.Tensor2D;
    expect(klSum(p, z).dataSync()[0]).to.be.closeTo(0, 1e-6);
    const q = tf.tensor2d([[0.5, 0.25, 0.25]]);
    const z1 = tf.tensor2d([[0, 0, 0]]);
    expect(klSum(q, z1).dataSync()[0]).to.be.closeTo(0.5 * Math.log(1.5) + 0.5 * Math.log(0.75), 1e-6);
    tf.dispose([z, p, q, z1]);
  });
});
