import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  IncompatiblePluginError,
  MemoryLogger,
  PluginRegistry,
  createTarget,
  crossEntropyLoss,
  cwLoss,
  dlrLoss,
  eotRows,
  perSampleNorms,
  pgdStep,
  randomStart,
} from '@dbp-bench/framework';
import { estimateGradient } from '../../src/estimator';
import { ADDT_DEFAULTS, PgdAttack } from '../../src/attack/pgd';
import { plugin } from '../../src';
import { evaluateRandomized, summarizeEvaluation } from '../../src/evaluate';
import { IdentityToyDefense, Mlp, RowKeyedTarget, ToyNoiseDefense, maxAbsDiff, syntheticData, trainedMlp } from '../helpers';

describe('losses', () => {
  const logits = tf.tensor2d([
    [2, 1, 0.5, -1],
    [0, 3, 1, 2],
  ]);
  const y = tf.tensor1d([0, 2], 'int32');

  it('cross-entropy is -log softmax_y', () => {
    const l = crossEntropyLoss(logits, y).arraySync();
    const row = (z: number[], k: number): number => -z[k] + Math.log(z.reduce((a, v) => a + Math.exp(v), 0));
    expect(l[0]).to.be.closeTo(row([2, 1, 0.5, -1], 0), 1e-5);
    expect(l[1]).to.be.closeTo(row([0, 3, 1, 2], 2), 1e-5);
  });

  it('cw is max_{i != y} z_i - z_y', () => {
    expect(cwLoss(logits, y).arraySync()).to.deep.equal([1 - 2, 3 - 1]);
  });

  it('dlr is -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)', () => {
    const l = dlrLoss(logits, y).arraySync();
    expect(l[0]).to.be.closeTo(-(2 - 1) / (2 - 0.5), 1e-6);
    expect(l[1]).to.be.closeTo(-(1 - 3) / (3 - 1), 1e-6);
    expect(() => dlrLoss(tf.tensor2d([[1, 2]]), tf.tensor1d([0], 'int32'))).to.throw(IncompatiblePluginError, /3 classes/);
  });
});

describe('PGD update rules (ALGORITHMS.md §6.1, §6.2, §13 items 12-13)', () => {
  const x = tf.tensor4d([0, 0.5, 1, 0.98, 0.01, 0.3, 0.7, 0.5], [2, 2, 2, 1]);

  it('l_inf: delta <- clip(delta + a sign(g), -eps, eps), x + delta clipped to [0,1]', () => {
    const g = tf.tensor4d([1, -1, 1, 1, -1, 0, 2, -3], [2, 2, 2, 1]);
    const eps = 8 / 255;
    const a = 2 / 255;
    let adv = x.clone();
    for (let k = 0; k < 6; k++) {
      const next = pgdStep(x, adv, g, 'linf', eps, a);
      adv.dispose();
      adv = next;
    }
    const d = tf.sub(adv, x).arraySync() as number[][][][];
    const flat = d.flat(3);
    const expected = [eps, -eps, 0, 1 - 0.98, -0.01, 0, eps, -eps];
    flat.forEach((v, i) => expect(v).to.be.closeTo(expected[i], 1e-6));
    adv.dispose();
  });

  it('sign(sum of EoT gradients) equals sign(mean)', () => {
    const gs = tf.randomNormal([5, 2, 2, 2, 1], 0, 1, 'float32', 3);
    const s = tf.sign(tf.sum(gs, 0));
    const m = tf.sign(tf.mean(gs, 0));
    expect(maxAbsDiff(s, m)).to.equal(0);
    tf.dispose([gs, s, m]);
  });

  it('l2: normalises with 1e-10, projects onto the ball, and a zero gradient gives no NaN', () => {
    const eps = 0.5;
    const g = tf.tensor4d([3, 4, 0, 0, 0, 0, 0, 0], [2, 2, 2, 1]);
    const one = pgdStep(x, x, g, 'l2', eps, 0.1);
    const d = tf.sub(one, x);
    // sample 0 moves 0.1 along (0.6, 0.8) except where the box clips; sample 1 (zero gradient) stays
    const dd = d.arraySync() as number[][][][];
    expect(dd[0][0][0][0]).to.be.closeTo(0.06, 1e-6);
    expect(dd[0][0][1][0]).to.be.closeTo(0.08, 1e-6);
    expect(dd[1].flat(2).every((v) => v === 0)).to.equal(true);
    expect(Number.isNaN(tf.sum(one).dataSync()[0])).to.equal(false);
    let adv = one;
    for (let k = 0; k < 20; k++) {
      const next = pgdStep(x, adv, g, 'l2', eps, 0.1);
      adv.dispose();
      adv = next;
    }
    const n = perSampleNorms(tf.sub(adv, x) as tf.Tensor4D, 'l2');
    expect(n[0]).to.be.at.most(eps + 1e-6);
    expect(n[0]).to.be.greaterThan(0.3);
    tf.dispose([one, d, adv]);
  });

  it('random start is inside the ball, keyed per (seed, sample, restart) and batch-independent', () => {
    const a = randomStart(x, [4, 9], 'linf', 0.1, 0, 0);
    const b = randomStart(x.slice([1, 0, 0, 0], [1, 2, 2, 1]), [9], 'linf', 0.1, 0, 0);
    const c = randomStart(x, [4, 9], 'linf', 0.1, 0, 1);
    expect(maxAbsDiff(a.slice([1, 0, 0, 0], [1, 2, 2, 1]), b)).to.equal(0);
    expect(maxAbsDiff(a, c)).to.be.greaterThan(0);
    expect(Math.max(...perSampleNorms(tf.sub(a, x) as tf.Tensor4D, 'linf'))).to.be.at.most(0.1 + 1e-7);
    const l2 = randomStart(x, [4, 9], 'l2', 0.3, 0, 0);
    expect(Math.max(...perSampleNorms(tf.sub(l2, x) as tf.Tensor4D, 'l2'))).to.be.at.most(0.3 + 1e-6);
    tf.dispose([a, b, c, l2]);
  });

  it('defaults to the ADDT protocol', () => {
    const p = new PgdAttack();
    expect(p.options.steps).to.equal(20);
    expect(p.options.randomStart).to.equal(false);
    expect(p.options.eot.samples).to.equal(10);
    expect(p.threat).to.deep.equal({ norm: 'linf', eps: 8 / 255 });
    expect(p.stepSize).to.equal(2 / 255);
    const q = new PgdAttack({ norm: 'l2' });
    expect(q.threat.eps).to.equal(0.5);
    expect(q.stepSize).to.equal(0.1);
    expect(ADDT_DEFAULTS.l2).to.deep.equal({ eps: 0.5, stepSize: 0.1 });
  });
});

describe('gradient estimators', () => {
  it('EoT sums the replica gradients of rows (sample, k), independent of the micro-batch', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.2);
    const target = new RowKeyedTarget(classifier, defense);
    const { x, y } = syntheticData(3, 5);
    const idx = [10, 11, 12];
    const K = 4;
    const full = estimateGradient(target, x, y, idx, { eot: { samples: K, microBatch: 16 }, loss: 'ce' });
    const tiny = estimateGradient(target, x, y, idx, { eot: { samples: K, microBatch: 3 }, loss: 'ce' });
    expect(maxAbsDiff(full.grad, tiny.grad)).to.be.lessThan(1e-6);
    // Manual: one replica at a time with its own row.
    const manual = tf.tidy(() => {
      const parts: tf.Tensor[] = [];
      for (let b = 0; b < 3; b++) {
        let acc: tf.Tensor = tf.zeros([1, 8, 8, 1]);
        for (let k = 0; k < K; k++) {
          const xb = x.slice([b, 0, 0, 0], [1, 8, 8, 1]);
          const yb = y.slice([b], [1]);
          const g = tf.grad((xx: tf.Tensor) =>
            tf.sum(crossEntropyLoss(classifier.logits(defense.purify(xx as tf.Tensor4D, target.noise([{ sample: idx[b], eot: k }]))), yb)),
          )(xb);
          acc = tf.add(acc, g);
        }
        parts.push(acc);
      }
      return tf.concat(parts, 0);
    });
    expect(maxAbsDiff(full.grad, manual)).to.be.lessThan(1e-5);
    expect(full.loss.length).to.equal(3);
    expect(full.replicaLoss.length).to.equal(3 * K);
    tf.dispose([full.grad, tiny.grad, manual, x, y]);
  });

  it('BPDA backpropagates through the classifier at the purified point only (identity through the defense)', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward'], 0.1);
    const target = new RowKeyedTarget(classifier, defense);
    const { x, y } = syntheticData(2, 6);
    const idx = [0, 1];
    const exact = estimateGradient(target, x, y, idx, { eot: { samples: 1, microBatch: 8 }, loss: 'ce', gradient: 'exact' });
    const bpda = estimateGradient(target, x, y, idx, { eot: { samples: 1, microBatch: 8 }, loss: 'ce', gradient: 'bpda' });
    const manual = tf.tidy(() => {
      const purified = defense.purify(x, target.noise(eotRows(idx, 1)));
      return tf.grad((p: tf.Tensor) => tf.sum(crossEntropyLoss(classifier.logits(p as tf.Tensor4D), y)))(purified);
    });
    expect(maxAbsDiff(bpda.grad, manual)).to.be.lessThan(1e-6);
    expect(maxAbsDiff(bpda.grad, exact.grad)).to.be.greaterThan(1e-4);
    tf.dispose([exact.grad, bpda.grad, manual, x, y]);
  });
});

describe('PGD restarts and protocol', () => {
  it('keeps, per sample, the restart that fools the model: never worse than one restart', async () => {
    const classifier = await trainedMlp();
    const defense = new IdentityToyDefense();
    const { x, y } = syntheticData(24, 9);
    const idx = Array.from({ length: 24 }, (_, i) => i);
    const opts = { eps: 0.05, stepSize: 0.01, steps: 4, randomStart: true, selectionDraws: 1 };
    const one = new PgdAttack({ ...opts, restarts: 1 });
    const four = new PgdAttack({ ...opts, restarts: 4 });
    const t = createTarget(classifier, defense, { seed: 0 });
    const ctx = { logger: new MemoryLogger(), sampleIndices: idx, seed: 0 };
    const a1 = await one.perturb(t, x, y, ctx);
    const a4 = await four.perturb(t, x, y, ctx);
    const r1 = summarizeEvaluation(evaluateRandomized(t, a1, y, idx, 1)).mean;
    const r4 = summarizeEvaluation(evaluateRandomized(t, a4, y, idx, 1)).mean;
    expect(r1).to.be.greaterThan(0); // the budget is small enough that one restart leaves survivors
    expect(r4).to.be.at.most(r1);
    tf.dispose([a1, a4, x, y]);
  });

  it('rejects a gradient mode the defense lacks (exact on a non-differentiable defense)', async () => {
    const classifier = new Mlp(0);
    const noExact = new ToyNoiseDefense(['forward']);
    (noExact.capabilities as unknown as { gradientModes: string[] }).gradientModes = [];
    const t = createTarget(classifier, noExact, { seed: 0, gradient: 'bpda' });
    const { x, y } = syntheticData(2, 1);
    let err: unknown;
    try {
      await new PgdAttack({ gradient: 'exact', steps: 1 }).perturb(t, x, y, { logger: new MemoryLogger(), sampleIndices: [0, 1], seed: 0 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(IncompatiblePluginError);
    // BPDA needs nothing from the defense
    const adv = await new PgdAttack({ gradient: 'bpda', steps: 1, eot: { samples: 1 } }).perturb(t, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: [0, 1],
      seed: 0,
    });
    tf.dispose([x, y, adv]);
  });

  it('puts EoT replicas in the batch dimension: one defense call per micro-batch, not per replica', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense();
    const t = createTarget(classifier, defense, { seed: 0 });
    const { x, y } = syntheticData(3, 2);
    defense.calls = 0;
    const adv = await new PgdAttack({ steps: 2, eot: { samples: 8, microBatch: 16 } }).perturb(t, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: [0, 1, 2],
      seed: 0,
    });
    expect(defense.calls).to.equal(2 * Math.ceil((3 * 8) / 16));
    tf.dispose([adv, x, y]);
  });
});

describe('attack pgd: the plugin', () => {
  const registry = new PluginRegistry().use(plugin);

  it('is created through the registry with the ADDT defaults (20 steps, EoT 10, 8/255 with step 2/255)', async () => {
    const a = await registry.createScope().create<PgdAttack>('attack', 'pgd', {});
    expect(a).to.be.instanceOf(PgdAttack);
    expect(a.options).to.deep.equal({
      norm: 'linf',
      eps: null,
      stepSize: null,
      steps: 20,
      randomStart: false,
      restarts: 1,
      loss: 'ce',
      eot: { samples: 10, microBatch: 16 },
      gradient: 'target',
      selectionDraws: 10,
    });
    expect(a.threat).to.deep.equal({ norm: 'linf', eps: 8 / 255 });
    expect(a.stepSize).to.equal(2 / 255);
    expect(new PgdAttack().options).to.deep.equal(a.options);
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await registry
      .createScope()
      .create('attack', 'pgd', { eot: { samples: 0 } })
      .then(
        () => expect.fail('accepted eot.samples 0'),
        (e: Error) =>
          expect(e)
            .to.be.instanceOf(ConfigValidationError)
            .and.to.have.property('message')
            .that.matches(/options of attack 'pgd'[\s\S]*\$\.eot\.samples: must be >= 1/),
      );
    expect(() => new PgdAttack({ loss: 'mse' as never })).to.throw(
      ConfigValidationError,
      /options of attack 'pgd'[\s\S]*\$\.loss: must be one of "ce", "cw", "dlr"/,
    );
  });
});
