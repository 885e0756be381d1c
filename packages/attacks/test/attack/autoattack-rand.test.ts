/**
 * AutoAttack 'rand' (ALGORITHMS.md §14.5): the "MNIST demo test should check" list (1)–(4) on the toy
 * models, the plugin, and the conformance suite.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, PluginRegistry, createTarget } from '@dbp-bench/framework';
import { plugin } from '../../src';
import autoattackRand, { AutoAttackRand } from '../../src/attack/autoattack-rand';
import { ApgdAttack, apgdCheckpoints, apgdStart } from '../../src/attack/apgd';
import { estimateGradient } from '../../src/estimator';
import { evaluateRandomized } from '../../src/evaluate';
import { describeAttackConformance } from '../../src/testing';
import type { StepInfo } from '../../src/types';
import { IdentityToyDefense, ToyNoiseDefense, maxAbsDiff, syntheticData, trainedMlp } from '../helpers';

describe("autoattack-rand (AutoAttack 'rand', §14.5)", () => {
  it('is the recipe: APGD with losses [ce, dlr], 100 iterations, 1 restart, EoT 20, momentum and rho 0.75', () => {
    const a = new AutoAttackRand();
    expect(a.apgd.options).to.deep.include({
      losses: ['ce', 'dlr'],
      steps: 100,
      restarts: 1,
      momentum: 0.75,
      rho: 0.75,
      selectionDraws: 20,
    });
    expect(a.apgd.options.eot.samples).to.equal(20);
    expect(a.threat).to.deep.equal({ norm: 'linf', eps: 8 / 255 });
    expect(a.protocol()).to.deep.include({ eotSamples: 20, steps: 100, restarts: 1, stepSize: null, policy: 'fresh' });
    expect(a.describe()).to.deep.include({ id: 'autoattack-rand', scoring: 'fixed-autoattack' });
    expect(new AutoAttackRand({ selectionDraws: 1 }).describe()).to.deep.include({ scoring: 'upstream' });
  });

  it('(1) checks step sizes after iterations 22, 41, 57, 70, 80, 87, 93, 99 for n = 100 (n = 50, 20 too)', () => {
    const oneBased = (n: number): number[] => apgdCheckpoints(n).map((i) => i + 1);
    expect(oneBased(100)).to.deep.equal([22, 41, 57, 70, 80, 87, 93, 99]);
    expect(oneBased(50)).to.deep.equal([11, 21, 30, 38, 45]);
    expect(oneBased(20)).to.deep.equal([4, 7, 9, ...Array.from({ length: 11 }, (_, i) => 10 + i)]);
  });

  it('(2) deterministic model: the EoT-20 gradient is the EoT-1 gradient, and both scorings agree', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(9, 31);
    const idx = Array.from({ length: 9 }, (_, i) => i);
    const target = createTarget(classifier, new IdentityToyDefense(), { seed: 0 });
    // The estimator itself: the sum over 20 replicas of a deterministic target is 20 times one replica.
    const g1 = estimateGradient(target, x, y, idx, { eot: { samples: 1, microBatch: 16 }, loss: 'ce', gradient: 'exact' });
    const g20 = estimateGradient(target, x, y, idx, { eot: { samples: 20, microBatch: 64 }, loss: 'ce', gradient: 'exact' });
    const mean20 = tf.div(g20.grad, 20);
    expect(maxAbsDiff(mean20, g1.grad)).to.be.below(1e-6);
    expect(tf.tidy(() => tf.max(tf.abs(g1.grad)).dataSync()[0])).to.be.above(1e-4);
    tf.dispose([g1.grad, g20.grad, mean20]);
    // The attack: EoT 20 and EoT 1, and the two scorings, return the same points.
    const ctx = { logger: new MemoryLogger(), sampleIndices: idx, seed: 0 };
    const opts = { eps: 0.05, steps: 12 };
    const a20 = await new AutoAttackRand({ ...opts, eot: { samples: 20 } }).perturb(target, x, y, ctx);
    const a1 = await new AutoAttackRand({ ...opts, eot: { samples: 1 } }).perturb(target, x, y, ctx);
    const up = await new AutoAttackRand({ ...opts, selectionDraws: 1 }).perturb(target, x, y, ctx);
    expect(maxAbsDiff(a20, a1)).to.equal(0);
    expect(maxAbsDiff(a20, up)).to.equal(0);
    const single = evaluateRandomized(target, up, y, idx, 1).map((r) => r.mean);
    const fixed = evaluateRandomized(target, a20, y, idx, 20).map((r) => r.mean);
    expect(single).to.deep.equal(fixed);
    // The budget breaks some but not all samples, so the comparison is not vacuous.
    const robust = fixed.reduce((s, v) => s + v, 0);
    expect(robust).to.be.above(0).and.below(9);
    tf.dispose([a20, a1, up, x, y]);
  });

  it('(3) APGD-DLR runs only on the samples APGD-CE did not break (and neither on clean errors)', async () => {
    const classifier = await trainedMlp();
    const n = 16;
    const { x, y } = syntheticData(n, 32);
    const idx = Array.from({ length: n }, (_, i) => 50 + i);
    const target = createTarget(classifier, new IdentityToyDefense(), { seed: 0 });
    const ctx = { logger: new MemoryLogger(), sampleIndices: idx, seed: 3 };
    const opts = { eps: 0.04, steps: 10, eot: { samples: 1 }, selectionDraws: 1 };
    const attacked = new Map<string, Set<number>>();
    const onStep = (info: StepInfo): void => {
      const s = attacked.get(info.attack) ?? new Set<number>();
      info.sampleIndices.forEach((i) => s.add(i));
      attacked.set(info.attack, s);
    };
    const adv = await new AutoAttackRand(opts).perturb(target, x, y, { ...ctx, onStep } as never);
    // Independently: the clean verdict, then a CE-only APGD with the same seed.
    const clean = evaluateRandomized(target, x, y, idx, 1).map((r) => r.mean);
    const ce = await new ApgdAttack({ ...opts, losses: ['ce'] }).perturb(target, x, y, ctx);
    const afterCe = evaluateRandomized(target, ce, y, idx, 1).map((r) => r.mean);
    const expectCe = idx.filter((_, j) => clean[j] > 0);
    const expectDlr = idx.filter((_, j) => afterCe[j] > 0);
    expect([...(attacked.get('apgd-ce') ?? [])].sort((a, b) => a - b)).to.deep.equal(expectCe);
    expect([...(attacked.get('apgd-dlr') ?? [])].sort((a, b) => a - b)).to.deep.equal(expectDlr);
    expect(expectDlr.length).to.be.above(0).and.below(expectCe.length);
    tf.dispose([adv, ce, x, y]);
  });

  it('(4) the l_inf random start lies at exactly eps before clipping to the box', () => {
    const eps = 8 / 255;
    const x = tf.fill([3, 8, 8, 1], 0.5) as tf.Tensor4D; // no clipping: 0.5 ± eps inside [0, 1]
    const start = apgdStart(x, [0, 1, 2], 'linf', eps, 7, 0);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(start, x)), [1, 2, 3]).dataSync());
    for (const v of d) expect(v).to.be.closeTo(eps, 1e-7);
    // At the box edge the start is clipped: |δ| < eps there, never outside [0, 1].
    const edge = tf.fill([1, 8, 8, 1], 1) as tf.Tensor4D;
    const s2 = apgdStart(edge, [0], 'linf', eps, 7, 0);
    expect(tf.tidy(() => tf.max(s2).dataSync()[0])).to.equal(1);
    tf.dispose([x, start, edge, s2]);
  });

  it('reports the EoT draws and their predictions at every step (the any-iteration counts)', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(4, 33);
    const idx = [0, 1, 2, 3];
    const target = createTarget(classifier, new ToyNoiseDefense(['forward', 'reverse'], 0.05), { seed: 1 });
    const infos: { draws?: number; predictions?: number; rows: number }[] = [];
    const adv = await new AutoAttackRand({ eps: 0.1, steps: 4, eot: { samples: 3 }, selectionDraws: 2 }).perturb(target, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: idx,
      seed: 0,
      onStep: (i: StepInfo) => infos.push({ draws: i.draws, predictions: i.predictions?.length, rows: i.sampleIndices.length }),
    } as never);
    expect(infos.length).to.be.at.least(4);
    for (const i of infos) {
      expect(i.draws).to.equal(3);
      expect(i.predictions).to.equal(3 * i.rows);
    }
    tf.dispose([adv, x, y]);
  });
});

describe('attack autoattack-rand: the plugin', () => {
  const registry = new PluginRegistry().use(plugin);

  it('is created through the registry with the recipe defaults', async () => {
    const a = await registry.createScope().create<AutoAttackRand>('attack', 'autoattack-rand', { selectionDraws: 1 });
    expect(a).to.be.instanceOf(AutoAttackRand);
    expect(a.options).to.deep.equal({
      norm: 'linf',
      eps: null,
      steps: 100,
      eot: { samples: 20, microBatch: 16 },
      rho: 0.75,
      gradient: 'target',
      selectionDraws: 1,
    });
  });

  it('rejects the options the recipe fixes, naming the plugin', async () => {
    const err = await registry
      .createScope()
      .create('attack', 'autoattack-rand', { losses: ['ce'] })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(String(err)).to.match(/autoattack-rand/);
    expect(String(err)).to.match(/losses/);
  });
});

const indices = Array.from({ length: 12 }, (_, i) => 200 + i);
describeAttackConformance(
  'autoattack-rand (undefended, trained MLP)',
  () => new AutoAttackRand({ eps: 0.1, steps: 10, eot: { samples: 1 } }),
  async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(12, 7);
    return { classifier, defense: new IdentityToyDefense(), x, y, sampleIndices: indices, maxRobustAccuracy: 0.1, minCleanAccuracy: 0.9 };
  },
  { plugin: autoattackRand, invalidOptions: [{ steps: 0 }, { selectionDraws: 0 }, { rho: 2 }, { restarts: 2 }] },
);
describeAttackConformance(
  'autoattack-rand l2 upstream scoring (stochastic toy defense)',
  () => new AutoAttackRand({ norm: 'l2', eps: 0.6, steps: 6, eot: { samples: 3 }, selectionDraws: 1 }),
  async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(12, 7);
    return {
      classifier,
      defense: new ToyNoiseDefense(['forward', 'reverse'], 0.05),
      x,
      y,
      sampleIndices: indices,
      draws: 4,
      minCleanAccuracy: 0.75,
    };
  },
);
