// The `vote` wrapper (ALGORITHMS.md §14.6): plurality of K purifications at target level.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  createTarget,
  eotRows,
  SharedForwardNoise,
  VoteTarget,
  voteCounts,
  voteLabel,
  voteRows,
  type Classifier,
  type Defense,
  type DefenseCapabilities,
  type NoiseSource,
} from '../src';

/** purify = clip(x + s·forward noise + r·reverse noise, 0, 1); s = r = 0: deterministic. */
class NoisyDefense implements Defense {
  readonly id = 'noisy';
  readonly capabilities: DefenseCapabilities;
  constructor(
    private readonly s: number,
    private readonly r: number,
  ) {
    const stochastic = s > 0 || r > 0;
    this.capabilities = { stochastic, streams: stochastic ? ['forward', 'reverse'] : [], gradientModes: ['exact'], networkCalls: 0 };
  }
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    return tf.tidy(() => {
      let y = x as tf.Tensor;
      if (this.s > 0) y = tf.add(y, tf.mul(noise.normal({ kind: 'forward' }, x.shape), this.s));
      if (this.r > 0) y = tf.add(y, tf.mul(noise.normal({ kind: 'reverse', step: 1 }, x.shape), this.r));
      return tf.clipByValue(y, 0, 1) as tf.Tensor4D;
    });
  }
}

/** logits = reshape(x) · W (4 classes, fixed W). */
class Linear implements Classifier {
  readonly numClasses = 4;
  private readonly w: tf.Tensor2D;
  constructor(d: number) {
    this.w = tf.keep(
      tf.tensor2d(
        Float32Array.from({ length: d * 4 }, (_, i) => Math.sin(3 * i + 1)),
        [d, 4],
      ),
    );
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], -1]), this.w));
  }
  dispose(): void {
    this.w.dispose();
  }
}

const samples = [0, 1, 2, 3, 4, 5];
const x = (): tf.Tensor4D => tf.randomUniform([samples.length, 2, 2, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
/** Each image twice (rows eotRows(samples, 2)). */
const x2 = (): tf.Tensor4D => tf.tidy(() => tf.gather(x(), tf.tensor1d([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5], 'int32')) as tf.Tensor4D);

function singlePredictions(target: ReturnType<typeof createTarget>, xs: tf.Tensor4D, rows = eotRows(samples)): number[] {
  return tf.tidy(() => Array.from(tf.argMax(target.logits(xs, rows), 1).dataSync()));
}

describe('vote wrapper (§14.6)', () => {
  const clf = new Linear(4);
  after(() => clf.dispose());

  it('ties: votes [3, 1] -> 1 (lowest-index), 3 (first-draw); counts sum to K', () => {
    expect(voteLabel([3, 1], 4, 'lowest-index')).to.equal(1);
    expect(voteLabel([3, 1], 4, 'first-draw')).to.equal(3);
    expect(voteLabel([2, 3, 3, 1, 2], 4, 'lowest-index')).to.equal(2);
    expect(voteLabel([3, 2, 3, 1, 2], 4, 'first-draw')).to.equal(3);
    expect(voteLabel([0, 3, 3], 4, 'first-draw')).to.equal(3);
    expect(Array.from(voteCounts([2, 3, 3, 1, 2], 4))).to.deep.equal([0, 1, 2, 2]);
    expect(() => voteCounts([4], 4)).to.throw(RangeError);
  });

  it('K = 1 equals the single prediction bitwise (same keyed and fresh noise)', () => {
    const xs = x2();
    for (const policy of ['fresh', 'both'] as const) {
      const d = new NoisyDefense(0.5, 0.3);
      const single = createTarget(clf, d, { policy, seed: 3 });
      const voted = new VoteTarget(createTarget(clf, d, { policy, seed: 3 }), { k: 1, ties: 'lowest-index', shareForward: false });
      const a = tf.tidy(() => single.logits(xs, eotRows(samples, 2)).argMax(1).dataSync());
      const { labels, counts } = voted.predictions(xs, eotRows(samples, 2));
      expect(Array.from(labels), policy).to.deep.equal(Array.from(a));
      for (const c of counts) expect(c.reduce((s, v) => s + v, 0)).to.equal(1);
    }
    xs.dispose();
  });

  it('a deterministic defense gives the single prediction for every K; counts sum to K', () => {
    const xs = x();
    const d = new NoisyDefense(0, 0);
    const single = singlePredictions(createTarget(clf, d), xs);
    for (const k of [1, 2, 5]) {
      for (const ties of ['lowest-index', 'first-draw'] as const) {
        const v = new VoteTarget(createTarget(clf, d), { k, ties, shareForward: false });
        const { labels, counts } = v.predictions(xs, eotRows(samples));
        expect(Array.from(labels), `K ${k} ${ties}`).to.deep.equal(single);
        for (const c of counts) expect(c.reduce((s, n) => s + n, 0)).to.equal(k);
        // logits outside a tape: argmax is the vote, floor the counts
        const l = tf.tidy(() => v.logits(xs, eotRows(samples)).arraySync());
        l.forEach((row, b) => {
          expect(row.indexOf(Math.max(...row))).to.equal(labels[b]);
          expect(row.map(Math.floor)).to.deep.equal(Array.from(counts[b]));
        });
      }
    }
    xs.dispose();
  });

  it('a stochastic defense: counts sum to K; permuting the K keyed draws does not change the lowest-index label', () => {
    const xs = x();
    const K = 9;
    const d = new NoisyDefense(0.8, 0.5);
    const v = new VoteTarget(createTarget(clf, d, { seed: 11 }), { k: K, ties: 'lowest-index', shareForward: false });
    const { labels, counts, copies } = v.predictions(xs, eotRows(samples));
    expect(new Set(copies).size).to.be.above(1); // the copies disagree somewhere
    counts.forEach((c) => expect(c.reduce((s, n) => s + n, 0)).to.equal(K));
    // the draws are keyed by (seed, sample, copy row): the same seed gives the same K copies
    const again = new VoteTarget(createTarget(clf, d, { seed: 11 }), { k: K, ties: 'lowest-index', shareForward: false }).predictions(
      xs,
      eotRows(samples),
    );
    expect(Array.from(again.copies)).to.deep.equal(Array.from(copies));
    // any order of the K draws gives the same lowest-index label (first-draw may differ)
    const orders = [
      [4, 0, 8, 2, 6, 1, 7, 3, 5],
      [8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    samples.forEach((_, b) => {
      const p = Array.from(copies.subarray(b * K, (b + 1) * K));
      expect(voteLabel(p, 4, 'lowest-index')).to.equal(labels[b]);
      for (const o of orders)
        expect(
          voteLabel(
            o.map((k) => p[k]),
            4,
            'lowest-index',
          ),
        ).to.equal(labels[b]);
    });
    expect(labels.length).to.equal(samples.length);
    xs.dispose();
  });

  it('shareForward: the K copies share the forward draw (other streams stay per copy)', () => {
    const xs = x2();
    const fwdOnly = new NoisyDefense(0.8, 0);
    const shared = new VoteTarget(createTarget(clf, fwdOnly, { seed: 2 }), { k: 6, ties: 'lowest-index', shareForward: true });
    const r1 = shared.predictions(xs, eotRows(samples, 2));
    // one forward draw per (sample, vote draw): all copies agree
    for (let b = 0; b < r1.labels.length; b++) expect(Math.max(...r1.counts[b])).to.equal(6);
    const indep = new VoteTarget(createTarget(clf, fwdOnly, { seed: 2 }), { k: 6, ties: 'lowest-index', shareForward: false });
    const r2 = indep.predictions(xs, eotRows(samples, 2));
    expect(r2.counts.some((c) => Math.max(...c) < 6)).to.equal(true);
    // the shared source repeats the head draw of each group of K rows
    const src = new SharedForwardNoise(createTarget(clf, fwdOnly, { seed: 2 }).noise(voteRows(eotRows([1]), 3)), 3);
    const t = src.normal({ kind: 'forward' }, [3, 2, 2, 1]);
    const d = t.arraySync() as number[][][][];
    expect(d[1]).to.deep.equal(d[0]);
    expect(d[2]).to.deep.equal(d[0]);
    t.dispose();
    xs.dispose();
  });

  it('attacks see one differentiable copy per EoT replica; copy rows are (sample, r·K + k)', () => {
    expect(voteRows([{ sample: 4, eot: 1 }], 3)).to.deep.equal([
      { sample: 4, eot: 3 },
      { sample: 4, eot: 4 },
      { sample: 4, eot: 5 },
    ]);
    const xs = x();
    const d = new NoisyDefense(0.2, 0);
    const v = new VoteTarget(createTarget(clf, d, { policy: 'both', seed: 1 }), { k: 4, ties: 'lowest-index', shareForward: false });
    const inner = createTarget(clf, d, { policy: 'both', seed: 1 });
    const g = tf.grad((xx: tf.Tensor) => tf.sum(v.logits(xx as tf.Tensor4D, eotRows(samples))))(xs);
    const gi = tf.grad((xx: tf.Tensor) => tf.sum(inner.logits(xx as tf.Tensor4D, eotRows(samples))))(xs);
    expect(Array.from(g.dataSync())).to.deep.equal(Array.from(gi.dataSync()));
    expect(Array.from(g.dataSync()).some((n) => n !== 0)).to.equal(true);
    tf.dispose([g, gi, xs]);
  });

  it('leaks no tensors over repeated votes', () => {
    const xs = x();
    const v = new VoteTarget(createTarget(clf, new NoisyDefense(0.5, 0.5)), { k: 5, ties: 'first-draw', shareForward: true });
    v.logits(xs, eotRows(samples)).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      v.logits(xs, eotRows(samples)).dispose();
      v.predictions(xs, eotRows(samples));
    }
    expect(tf.memory().numTensors).to.equal(before);
    expect(() => new VoteTarget(createTarget(clf, new NoisyDefense(0, 0)), { k: 0, ties: 'lowest-index', shareForward: false })).to.throw(
      /k must be a positive integer/,
    );
    xs.dispose();
  });
});
