/** ALGORITHMS.md §13 items 16-21: RBGM, gamma_t, eps' statistics. */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng } from '@dbp-bench/framework';
import { alphasCumprod, linearBetas } from '@dbp-bench/defenses-dbp';
import { gammaFromAbar, gammaSchedule, mixedNoise, rbgm, rbgmRows } from '../src';

function normals(n: number, seed: number): Float32Array {
  const rng = new SeededRng(seed, 'test');
  return Float32Array.from({ length: n }, () => rng.normal());
}
function argsort(a: ArrayLike<number>): number[] {
  return Array.from({ length: a.length }, (_, i) => i).sort((i, j) => a[i] - a[j]);
}
const sorted = (a: ArrayLike<number>) => Array.from(a).sort((x, y) => x - y);

describe('trainers-addt: RBGM (§13 items 16-19)', () => {
  it('item 16: the worked example gives [0, -1.6, -0.6, 1.2, 0.8, -0.2, 0.4]', () => {
    const g = tf.tensor4d([0.5, -2.2, -1.4, 7.2, 5.1, -0.6, 1.1], [1, 7, 1, 1]);
    const z = tf.tensor4d([1.2, 0, -1.6, 0.8, -0.6, 0.4, -0.2], [1, 7, 1, 1]);
    const out = rbgm(g, z);
    expect(Array.from(out.dataSync())).to.deep.equal(Array.from(Float32Array.from([0, -1.6, -0.6, 1.2, 0.8, -0.2, 0.4])));
    // the same through the row API and as a 7-pixel row of an image (1 x 7 width)
    expect(
      Array.from(
        rbgmRows(Float32Array.from([0.5, -2.2, -1.4, 7.2, 5.1, -0.6, 1.1]), Float32Array.from([1.2, 0, -1.6, 0.8, -0.6, 0.4, -0.2]), 7),
      ),
    ).to.deep.equal(Array.from(Float32Array.from([0, -1.6, -0.6, 1.2, 0.8, -0.2, 0.4])));
    [g, z, out].forEach((t) => t.dispose());
  });

  it('item 17: ranks are preserved within each (image, channel) row and the row holds exactly the sample', () => {
    const [b, h, w, c] = [2, 4, 5, 3];
    const G = normals(b * h * w * c, 1).map((v) => v * 3 + 1);
    const Z = normals(b * h * w * c, 2);
    const out = rbgm(tf.tensor4d(G, [b, h, w, c]), tf.tensor4d(Z, [b, h, w, c]));
    const o = out.dataSync();
    out.dispose();
    const row = (a: ArrayLike<number>, n: number, ch: number) => Array.from({ length: h * w }, (_, k) => a[(n * h * w + k) * c + ch]);
    for (let n = 0; n < b; n++)
      for (let ch = 0; ch < c; ch++) {
        expect(argsort(row(o, n, ch))).to.deep.equal(argsort(row(G, n, ch)));
        expect(sorted(row(o, n, ch))).to.deep.equal(sorted(row(Z, n, ch)));
      }
  });

  it('item 18: invariant to c*G + d (c > 0) and exp(G) given the same sample', () => {
    const shape: [number, number, number, number] = [2, 6, 6, 3];
    const n = shape.reduce((a, b) => a * b, 1);
    const G = tf.tensor4d(normals(n, 3), shape);
    const Z = tf.tensor4d(normals(n, 4), shape);
    const base = rbgm(G, Z);
    const affine = tf.tidy(() => rbgm(tf.add(tf.mul(G, 3.7), -2.5) as tf.Tensor4D, Z));
    const expd = tf.tidy(() => rbgm(tf.exp(G) as tf.Tensor4D, Z));
    expect(Array.from(affine.dataSync())).to.deep.equal(Array.from(base.dataSync()));
    expect(Array.from(expd.dataSync())).to.deep.equal(Array.from(base.dataSync()));
    // a decreasing transform reverses the ranks instead (the test can fail)
    const neg = tf.tidy(() => rbgm(tf.neg(G) as tf.Tensor4D, Z));
    expect(Array.from(neg.dataSync())).to.not.deep.equal(Array.from(base.dataSync()));
    [G, Z, base, affine, expd, neg].forEach((t) => t.dispose());
  });

  it('item 19: 1024-element rows have mean ~0 and variance ~1, and the output multiset does not depend on G', () => {
    const shape: [number, number, number, number] = [2, 32, 32, 3];
    const n = shape.reduce((a, b) => a * b, 1);
    const Z = tf.tensor4d(normals(n, 5), shape);
    const G1 = tf.tensor4d(
      normals(n, 6).map((v) => v * v * v),
      shape,
    );
    const G2 = tf.tensor4d(
      Float32Array.from({ length: n }, (_, i) => Math.sin(i)),
      shape,
    );
    const o1 = rbgm(G1, Z);
    const o2 = rbgm(G2, Z);
    const a = o1.dataSync();
    const b2 = o2.dataSync();
    for (let img = 0; img < 2; img++)
      for (let ch = 0; ch < 3; ch++) {
        const row = Array.from({ length: 1024 }, (_, k) => a[(img * 1024 + k) * 3 + ch]);
        const mean = row.reduce((s, v) => s + v, 0) / 1024;
        const v = row.reduce((s, x) => s + (x - mean) ** 2, 0) / 1024;
        expect(Math.abs(mean)).to.be.lessThan(0.1);
        expect(Math.abs(v - 1)).to.be.lessThan(0.1);
        const row2 = Array.from({ length: 1024 }, (_, k) => b2[(img * 1024 + k) * 3 + ch]);
        expect(sorted(row2)).to.deep.equal(sorted(row));
      }
    [Z, G1, G2, o1, o2].forEach((t) => t.dispose());
  });

  it('rejects a sample of another shape and does not leak without a sample', () => {
    const g = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
    const z = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => rbgm(g, z)).to.throw(/sample has shape/);
    const before = tf.memory().numTensors;
    const o = rbgm(g);
    o.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    g.dispose();
    z.dispose();
  });
});

describe("trainers-addt: gamma_t and eps' (§13 items 20-21)", () => {
  const abar = alphasCumprod(linearBetas(1000));
  const gamma = gammaSchedule(abar);

  it('item 20: gamma_0 = 0.3, gamma_49 = 0.173641, gamma_99 = 0.088540, gamma_999 = 0.000191', () => {
    expect(gamma[0]).to.equal(0.3);
    expect(gamma[9]).to.equal(0.3);
    expect(gamma[49]).to.be.closeTo(0.173641, 1e-6);
    expect(gamma[99]).to.be.closeTo(0.08854, 1e-6);
    expect(gamma[100]).to.be.closeTo(0.087653, 1e-6);
    expect(gamma[199]).to.be.closeTo(0.041708, 1e-6);
    expect(gamma[499]).to.be.closeTo(0.008761, 1e-6);
    expect(gamma[999]).to.be.closeTo(0.000191, 1e-6);
  });

  it('item 20: sigma_t * gamma_t == 0.03 for t >= 28 and < 0.03 for t <= 27', () => {
    for (let t = 0; t < 1000; t++) {
      const sigma = Math.sqrt((1 - abar[t]) / abar[t]);
      if (t >= 28) expect(sigma * gamma[t]).to.be.closeTo(0.03, 1e-12);
      else expect(sigma * gamma[t]).to.be.lessThan(0.03);
    }
    expect(gammaFromAbar(0.5, { scale: 0.03, max: 0 })).to.equal(0);
  });

  it("item 21: eps' = sqrt(1-g^2) eps + g RBGM(G) has variance 1 (Monte Carlo, 1e4 samples)", () => {
    // 1e4 independent draws of a 4x4x1 image, gamma = 0.3 (the largest, where RBGM matters most).
    const N = 10000;
    const shape: [number, number, number, number] = [N, 4, 4, 1];
    const n = N * 16;
    const g = 0.3;
    const coef = { gamma: tf.fill([N, 1, 1, 1], g) as tf.Tensor4D, sqrt1mG2: tf.fill([N, 1, 1, 1], Math.sqrt(1 - g * g)) as tf.Tensor4D };
    const eps = tf.tensor4d(normals(n, 7), shape);
    const Z = tf.tensor4d(normals(n, 8), shape);
    const stats = (G: tf.Tensor4D): { pooled: number; perElement: number[] } => {
      const ed = rbgm(G, Z);
      const e = tf.tidy(() => mixedNoise(eps, ed, coef));
      const d = e.dataSync();
      [ed, e].forEach((t) => t.dispose());
      const perElement = Array.from({ length: 16 }, (_, k) => {
        let m = 0;
        let s = 0;
        for (let i = 0; i < N; i++) m += d[i * 16 + k];
        m /= N;
        for (let i = 0; i < N; i++) s += (d[i * 16 + k] - m) ** 2;
        return s / N;
      });
      let pooled = 0;
      for (let i = 0; i < n; i++) pooled += d[i] * d[i];
      return { pooled: pooled / n, perElement };
    };
    // (a) a fixed, arbitrary G: pooled over positions the second moment is 1 (per position it depends
    //     on the rank: RBGM puts the row's extreme samples where G is extreme).
    const Gfixed = tf.tidy(
      () =>
        tf.tile(
          tf.tensor4d(
            Float32Array.from({ length: 16 }, (_, i) => Math.exp(i % 5) - i),
            [1, 4, 4, 1],
          ),
          [N, 1, 1, 1],
        ) as tf.Tensor4D,
    );
    const a = stats(Gfixed);
    expect(Math.abs(a.pooled - 1)).to.be.lessThan(0.05);
    // (b) G varying with the sample (as in training, independent of the sample): every element has variance 1.
    const Grand = tf.tensor4d(
      normals(n, 9).map((v) => v ** 3),
      shape,
    );
    const b = stats(Grand);
    for (const v of b.perElement) expect(Math.abs(v - 1)).to.be.lessThan(0.05);
    [coef.gamma, coef.sqrt1mG2, eps, Z, Gfixed, Grand].forEach((t) => t.dispose());
  });
});
