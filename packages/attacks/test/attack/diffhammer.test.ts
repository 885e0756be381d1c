/**
 * DiffHammer (ALGORITHMS.md §14.1): the "MNIST demo test should check" list (1)–(3), (5), (6) on the
 * toy models ((4), the Avg/Wor any-iteration scores, is the runner's), the noise replay, the step hook
 * and the conformance suite.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  MemoryLogger,
  createTarget,
  type Defense,
  type DefenseCapabilities,
  type NoiseSource,
  type NoiseStreamKind,
} from '@dbp-bench/framework';
import diffhammer, {
  DiffHammerAttack,
  purificationVjp,
  resubmissionRobustness,
  resubmissionRobustnessMle,
  selectAndWeigh,
} from '../../src/attack/diffhammer';
import { estimateGradient } from '../../src/estimator';
import { describeAttackConformance } from '../../src/testing';
import type { StepInfo } from '../../src/types';
import { IdentityToyDefense, ToyNoiseDefense, maxAbsDiff, syntheticData, trainedMlp } from '../helpers';

const idx = [3, 4, 5, 6];

/** A defense whose Jacobian depends on the noise: x·(1 + σ·n) (the grafting approximation is inexact here). */
class MultiplicativeNoiseDefense implements Defense {
  readonly id = 'toy-mul-noise';
  readonly capabilities: DefenseCapabilities = { stochastic: true, streams: ['forward'], gradientModes: ['exact'], networkCalls: 0 };
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    return tf.tidy(() => tf.mul(x, tf.add(1, tf.mul(noise.normal({ kind: 'forward' }, x.shape), 0.3))) as tf.Tensor4D);
  }
}

/** Counts purified rows, calls, and backward passes through the purification (the gradient passes unchanged). */
class CountingDefense implements Defense {
  readonly id = 'toy-counting';
  readonly capabilities: DefenseCapabilities;
  rows = 0;
  calls = 0;
  backwards = 0;
  constructor(private readonly inner: Defense) {
    this.capabilities = inner.capabilities;
  }
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    this.calls++;
    this.rows += x.shape[0];
    const out = this.inner.purify(x, noise);
    const counted = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: (args[0] as tf.Tensor).clone(),
      gradFunc: (dy: tf.Tensor) => {
        this.backwards++;
        return dy.clone();
      },
    }));
    const r = counted(out) as tf.Tensor4D;
    out.dispose();
    return r;
  }
}

describe('diffhammer (DiffHammer selective EM attack, §14.1)', () => {
  it('defaults to the project default: N = 10, λ = 5, α = 0.5, 3 × 50 iterations with CW, CE, DLR, threshold 0.5', () => {
    const a = new DiffHammerAttack();
    expect(a.options).to.include({ evaluations: 10, lambda: 5, alpha: 0.5, steps: 50, restartThreshold: 0.5, momentum: 0.75, rho: 0.75 });
    expect(a.options.losses).to.deep.equal(['cw', 'ce', 'dlr']);
    expect(a.protocol()).to.include({ eotSamples: 10, steps: 50, restarts: 3, stepSize: null });
    expect(diffhammer.id).to.equal('diffhammer');
  });

  for (const [name, make, policy] of [
    ['identity', () => new IdentityToyDefense(), 'fresh'],
    ['DW_Both (all noise keyed)', () => new ToyNoiseDefense(['forward', 'reverse'], 0.05), 'both'],
  ] as const) {
    it(`(1) deterministic defense (${name}): the grafted gradient equals pgd's exact gradient`, async () => {
      const classifier = await trainedMlp();
      const { x, y } = syntheticData(4, 31);
      const target = createTarget(classifier, make(), { seed: 2, policy });
      const a = new DiffHammerAttack({ eps: 0.1, evaluations: 5, losses: ['ce'] });
      const ev = a.evaluateDraws(target, x, y, idx, 'ce');
      // all h_i of a sample are equal
      const hr = tf.reshape(ev.h, [4, 5, -1]);
      const spread = tf.tidy(() => tf.max(tf.abs(tf.sub(hr, tf.slice(hr, [0, 0, 0], [4, 1, -1])))).dataSync()[0]);
      expect(spread).to.equal(0);
      const g = a.graft(target, x, ev);
      const ref = estimateGradient(target, x, y, idx, { eot: { samples: 1, microBatch: 64 }, loss: 'ce', gradient: 'exact' });
      expect(maxAbsDiff(g.grad, ref.grad)).to.be.below(1e-6);
      const scale = tf.tidy(() => tf.max(tf.abs(ref.grad)).dataSync()[0]);
      expect(scale).to.be.greaterThan(1e-3);
      tf.dispose([hr, g.grad, ref.grad, x, y]);
      ev.dispose();
    });
  }

  it('replays the noise of a recorded draw bitwise', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(4, 32);
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.05);
    const target = createTarget(classifier, defense, { seed: 1 });
    const a = new DiffHammerAttack({ eps: 0.1, evaluations: 3, microBatch: 5 }); // 12 rows in chunks of 5
    const purified: tf.Tensor4D[] = [];
    const orig = defense.purify.bind(defense);
    defense.purify = (xx, noise) => {
      const out = orig(xx, noise);
      purified.push(tf.keep(out.clone()));
      return out;
    };
    const ev = a.evaluateDraws(target, x, y, idx, 'ce');
    defense.purify = orig;
    const all = tf.concat(purified, 0);
    const pos = [2, 3, 7, 10];
    const again = defense.purify(tf.gather(x, tf.tensor1d([0, 1, 2, 3], 'int32')) as tf.Tensor4D, ev.record.replay(pos));
    const want = tf.gather(all, tf.tensor1d(pos, 'int32'));
    expect(maxAbsDiff(again, want)).to.equal(0);
    expect(() => ev.record.replay([12])).to.throw(/no recorded row 12/);
    tf.dispose([...purified, all, again, want, x, y]);
    ev.dispose();
  });

  it('(2) a Jacobian that does not depend on the noise makes grafting exact: J_âᵀ Σ q h = Σ q J_bᵀ h_b', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(4, 33);
    const N = 6;
    const check = (defense: Defense): number => {
      const target = createTarget(classifier, defense, { seed: 3 });
      const a = new DiffHammerAttack({ eps: 0.1, evaluations: N });
      const ev = a.evaluateDraws(target, x, y, idx, 'cw');
      const g = a.graft(target, x, ev);
      const qs = g.q;
      let acc = tf.zerosLike(x) as tf.Tensor4D;
      for (let i = 0; i < N; i++) {
        const pos = idx.map((_, b) => b * N + i);
        const hi = tf.gather(ev.h, tf.tensor1d(pos, 'int32')) as tf.Tensor4D;
        const v = purificationVjp(target, x, hi, ev.record.replay(pos), 'exact');
        const w = tf.tensor4d(
          pos.map((p) => qs[p]),
          [4, 1, 1, 1],
        );
        const next = tf.add(acc, tf.mul(v, w)) as tf.Tensor4D;
        tf.dispose([acc, hi, v, w]);
        acc = next;
      }
      const qsum = tf.tensor4d(
        idx.map((_, b) => qs.slice(b * N, (b + 1) * N).reduce((s, v) => s + v, 0)),
        [4, 1, 1, 1],
      );
      const ref = tf.div(acc, qsum) as tf.Tensor4D;
      const d =
        maxAbsDiff(g.grad, ref) /
        Math.max(
          1e-12,
          tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]),
        );
      tf.dispose([acc, qsum, ref, g.grad]);
      ev.dispose();
      return d;
    };
    expect(check(new ToyNoiseDefense(['forward', 'reverse'], 0.05))).to.be.below(1e-6);
    // The check can fail: with multiplicative noise the Jacobian differs per draw.
    expect(check(new MultiplicativeNoiseDefense())).to.be.above(1e-3);
    tf.dispose([x, y]);
  });

  it('(3) two clusters of h (7 aligned, 3 opposed): â is in the larger cluster and its weights are higher', () => {
    const N = 10;
    const D = 6;
    const v = [1, -2, 0.5, 3, -1, 2];
    const data: number[] = [];
    const cluster: boolean[] = [];
    for (let i = 0; i < N; i++) {
      const aligned = [0, 2, 3, 4, 6, 8, 9].includes(i); // interleaved so the order cannot decide
      cluster.push(aligned);
      const s = aligned ? 1 + 0.05 * i : -(1 + 0.05 * i);
      for (let d = 0; d < D; d++) data.push(0.1 * s * v[d] + 0.01 * Math.sin(i * 7 + d));
    }
    const h = tf.tensor4d(data, [N, 1, D, 1]);
    const loss = new Float32Array(N).fill(0.2);
    for (const norm of ['linf', 'l2'] as const) {
      const { selected, q } = selectAndWeigh(h, loss, N, norm, 0.1, 5);
      expect(cluster[selected[0]], `${norm}: â = ${selected[0]}`).to.equal(true);
      const minIn = Math.min(...Array.from(q).filter((_, i) => cluster[i]));
      const maxOut = Math.max(...Array.from(q).filter((_, i) => !cluster[i]));
      expect(minIn, norm).to.be.greaterThan(maxOut);
    }
    h.dispose();
  });

  it('(5) UMVUE of the M-resubmission robustness C(N − M, n)/C(N, n): unbiased, and the hand values', () => {
    // §14.1 lists 28/45 for N = 10, M = 5, n = 2; that is C(8, 2)/C(10, 2), the value for M = 2. For M = 5
    // the estimator is C(5, 2)/C(10, 2) = 10/45, and the unbiasedness check below decides between them.
    expect(resubmissionRobustness(10, 5, 2)).to.be.closeTo(10 / 45, 1e-12);
    expect(resubmissionRobustness(10, 2, 2)).to.be.closeTo(28 / 45, 1e-12);
    expect(resubmissionRobustnessMle(10, 5, 2)).to.be.closeTo(0.32768, 1e-12);
    expect(resubmissionRobustness(10, 1, 1)).to.be.closeTo(0.9, 1e-12);
    expect(resubmissionRobustness(10, 5, 6)).to.equal(0);
    expect(resubmissionRobustness(10, 5, 0)).to.equal(1);
    expect(() => resubmissionRobustness(4, 5, 1)).to.throw(/N >= M/);
    // E_{n ~ Bin(N, p)}[estimate] = (1 − p)^M exactly (and the MLE is biased).
    const binom = (n: number, k: number): number => {
      let r = 1;
      for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
      return r;
    };
    for (const [N, M] of [
      [10, 5],
      [10, 2],
      [20, 7],
      [5, 5],
    ]) {
      for (const p of [0.1, 0.35, 0.8]) {
        let e = 0;
        let mle = 0;
        for (let n = 0; n <= N; n++) {
          const pn = binom(N, n) * p ** n * (1 - p) ** (N - n);
          e += pn * resubmissionRobustness(N, M, n);
          mle += pn * resubmissionRobustnessMle(N, M, n);
        }
        expect(e, `N=${N} M=${M} p=${p}`).to.be.closeTo((1 - p) ** M, 1e-12);
        if (M > 1) expect(mle, `MLE N=${N} M=${M} p=${p}`).to.be.greaterThan((1 - p) ** M);
      }
    }
  });

  it('(6) network calls per iteration: N purifications + one chain backward', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(4, 34);
    const defense = new CountingDefense(new ToyNoiseDefense(['forward', 'reverse'], 0.05));
    const target = createTarget(classifier, defense, { seed: 4 });
    let classifierRows = 0;
    const counted = {
      numClasses: classifier.numClasses,
      logits: (u: tf.Tensor4D) => {
        classifierRows += u.shape[0];
        return classifier.logits(u);
      },
    };
    const t2 = createTarget(counted, defense, { seed: 4 });
    void target;
    const N = 5;
    const steps = 4;
    const a = new DiffHammerAttack({ eps: 0.1, evaluations: N, steps, losses: ['ce'], microBatch: 64 });
    const adv = a.runOnce(t2, x, y, idx, 'ce', 0, { logger: new MemoryLogger(), sampleIndices: idx, seed: 0 });
    // steps + 1 evaluations of N draws (start point and every iterate); a graft at every iterate but the last
    expect(defense.rows).to.equal((steps + 1) * 4 * N + steps * 4);
    expect(defense.calls).to.equal(steps + 1 + steps);
    expect(defense.backwards).to.equal(steps);
    expect(classifierRows).to.equal((steps + 1) * 4 * N);
    tf.dispose([adv.xRet, x, y]);
  });

  it('emits N draws and their predictions at every step, stays in the ball, leaks no tensors, and restarts only weak samples', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(6, 35);
    const ids = [10, 11, 12, 13, 14, 15];
    const target = createTarget(classifier, new ToyNoiseDefense(['forward', 'reverse'], 0.05), { seed: 5 });
    const N = 4;
    const a = new DiffHammerAttack({ eps: 0.05, evaluations: N, steps: 5, restartThreshold: 0.5 });
    const infos: { restart: number; rows: number; draws?: number; preds: number; correct: number[] }[] = [];
    const before = tf.memory().numTensors;
    const adv = await a.perturb(target, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: ids,
      seed: 1,
      onStep: (s: StepInfo) =>
        infos.push({
          restart: s.restart,
          rows: s.sampleIndices.length,
          draws: s.draws,
          preds: s.predictions?.length ?? -1,
          correct: Array.from(s.correctFraction),
        }),
    } as never);
    expect(tf.memory().numTensors).to.equal(before + 1);
    expect(infos.filter((i) => i.restart === 0)).to.have.length(5);
    for (const i of infos) {
      expect(i.draws).to.equal(N);
      expect(i.preds).to.equal(i.rows * N);
      for (const c of i.correct) expect(c * N).to.be.closeTo(Math.round(c * N), 1e-6);
    }
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x))).dataSync()[0]);
    expect(d).to.be.at.most(0.05 + 1e-6);
    // later runs attack at most the samples still above the threshold
    for (const r of [1, 2]) for (const i of infos.filter((z) => z.restart === r)) expect(i.rows).to.be.at.most(6);
    tf.dispose([adv, x, y]);
  });
});

const indices = Array.from({ length: 12 }, (_, i) => 100 + i);
describeAttackConformance(
  'diffhammer (undefended, trained MLP)',
  () => new DiffHammerAttack({ eps: 0.1, steps: 10, evaluations: 2 }),
  async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(12, 7);
    return { classifier, defense: new IdentityToyDefense(), x, y, sampleIndices: indices, maxRobustAccuracy: 0.1, minCleanAccuracy: 0.9 };
  },
  { plugin: diffhammer, invalidOptions: [{ losses: [] }, { evaluations: 0 }, { lambda: 0 }, { alpha: 2 }] },
);
describeAttackConformance(
  'diffhammer l2 (stochastic toy defense)',
  () => new DiffHammerAttack({ norm: 'l2', eps: 0.6, steps: 6, evaluations: 3, losses: ['ce', 'dlr'] }),
  async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(12, 7);
    const streams: NoiseStreamKind[] = ['forward', 'reverse'];
    return { classifier, defense: new ToyNoiseDefense(streams, 0.05), x, y, sampleIndices: indices, draws: 4, minCleanAccuracy: 0.75 };
  },
);
