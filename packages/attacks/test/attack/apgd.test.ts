import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, IncompatiblePluginError, MemoryLogger, PluginRegistry, createTarget } from '@dbp-bench/framework';
import { plugin } from '../../src';
import { ApgdAttack, apgdCheckpoints, apgdSchedule } from '../../src/attack/apgd';
import { evaluateRandomized, summarizeEvaluation } from '../../src/evaluate';
import type { StepInfo } from '../../src/types';
import { IdentityToyDefense, Mlp, ToyNoiseDefense, syntheticData, trainedMlp } from '../helpers';

describe('APGD (Croce & Hein 2020) with EoT', () => {
  it("defaults to AutoAttack 'rand': CE then DLR, 100 iterations, EoT 20, momentum 0.75", () => {
    const a = new ApgdAttack();
    expect(a.options.losses).to.deep.equal(['ce', 'dlr']);
    expect(a.options.steps).to.equal(100);
    expect(a.options.eot.samples).to.equal(20);
    expect(a.options.momentum).to.equal(0.75);
    expect(a.options.rho).to.equal(0.75);
    expect(a.options.restarts).to.equal(1);
    expect(a.threat).to.deep.equal({ norm: 'linf', eps: 8 / 255 });
  });

  it('checks step sizes at the AutoAttack checkpoints ceil(p_j * n_iter)', () => {
    expect(apgdSchedule(100)).to.deep.equal({ first: 22, min: 6, decrease: 3 });
    // p = 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 -> iterations 22, 41, 57, 70, 80, 87, 93, 99 (1-based)
    expect(apgdCheckpoints(100).map((i) => i + 1)).to.deep.equal([22, 41, 57, 70, 80, 87, 93, 99]);
  });

  it('halves the step size only at checkpoints, starting from 2*eps, and resets stalled samples', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(3, 21);
    const target = createTarget(classifier, new IdentityToyDefense(), { seed: 0 });
    const sizes: number[][] = [];
    const onStep = (info: StepInfo): void => {
      sizes.push(Array.from(info.stepSize));
    };
    const n = 50;
    const attack = new ApgdAttack({ eps: 0.1, steps: n, losses: ['ce'], eot: { samples: 1 }, selectionDraws: 1 });
    const adv = attack.runOnce(target, x, y, [0, 1, 2], 'ce', 0, { logger: new MemoryLogger(), sampleIndices: [0, 1, 2], seed: 0, onStep });
    expect(sizes).to.have.length(n);
    expect(sizes[0]).to.deep.equal([0.2, 0.2, 0.2].map((v) => Math.fround(v)));
    const checkpoints = new Set(apgdCheckpoints(n));
    let halvings = 0;
    for (let i = 1; i < n; i++) {
      for (let b = 0; b < 3; b++) {
        if (sizes[i][b] !== sizes[i - 1][b]) {
          // the step size used at iteration i changed: a checkpoint ran after iteration i-1
          expect(checkpoints.has(i - 1), `change after iteration ${i - 1}`).to.equal(true);
          expect(sizes[i][b]).to.equal(Math.fround(sizes[i - 1][b] / 2));
          halvings++;
        }
      }
    }
    // Sign steps of 2*eps saturate at a corner of the ball at once, so the loss stalls and the step is halved.
    expect(halvings).to.be.greaterThan(0);
    adv.dispose();
    tf.dispose([x, y]);
  });

  it('returns the clean input for samples it cannot fool and never raises accuracy (Fixed-AutoAttack bookkeeping)', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(12, 22);
    const idx = Array.from({ length: 12 }, (_, i) => i);
    const target = createTarget(classifier, new IdentityToyDefense(), { seed: 0 });
    // A tiny budget: most samples survive, and the survivors must come back unchanged.
    const adv = await new ApgdAttack({ eps: 0.01, steps: 10, eot: { samples: 1 }, selectionDraws: 1 }).perturb(target, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: idx,
      seed: 0,
    });
    const rec = evaluateRandomized(target, adv, y, idx, 1);
    const clean = summarizeEvaluation(evaluateRandomized(target, x, y, idx, 1));
    expect(summarizeEvaluation(rec).mean).to.be.at.most(clean.mean);
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync());
    rec.forEach((r, i) => {
      if (r.single) expect(d[i]).to.equal(0);
    });
    tf.dispose([adv, x, y]);
  });

  it('attacks a stochastic defense with EoT and decides by repeated purifications', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.1);
    const { x, y } = syntheticData(6, 23);
    const idx = [0, 1, 2, 3, 4, 5];
    const target = createTarget(classifier, defense, { seed: 1 });
    const calls: number[] = [];
    const adv = await new ApgdAttack({ eps: 0.1, steps: 6, eot: { samples: 3 }, selectionDraws: 4 }).perturb(target, x, y, {
      logger: new MemoryLogger(),
      sampleIndices: idx,
      seed: 0,
      onStep: (info: StepInfo) => calls.push(info.restart),
    } as never);
    const robust = summarizeEvaluation(evaluateRandomized(target, adv, y, idx, 8));
    expect(robust.mean).to.be.lessThan(0.5);
    expect(calls.filter((r) => r === 0)).to.have.length(6);
    tf.dispose([adv, x, y]);
  });

  it('a deterministic model gives identical results with 1 and 20 selection draws (ALGORITHMS.md §13 item 15)', async () => {
    const classifier = await trainedMlp();
    const { x, y } = syntheticData(9, 24);
    const idx = Array.from({ length: 9 }, (_, i) => i);
    const target = createTarget(classifier, new IdentityToyDefense(), { seed: 0 });
    const ctx = { logger: new MemoryLogger(), sampleIndices: idx, seed: 0 };
    const opts = { eps: 0.03, steps: 8, eot: { samples: 1 } };
    const a = await new ApgdAttack({ ...opts, selectionDraws: 1 }).perturb(target, x, y, ctx);
    const b = await new ApgdAttack({ ...opts, selectionDraws: 20 }).perturb(target, x, y, ctx);
    const ra = summarizeEvaluation(evaluateRandomized(target, a, y, idx, 1));
    const rb = summarizeEvaluation(evaluateRandomized(target, b, y, idx, 20));
    expect(ra.mean).to.equal(rb.mean);
    expect(rb.mean).to.be.within(0, 1);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).to.equal(0);
    tf.dispose([a, b, x, y]);
  });

  it('rejects DLR on a 2-class classifier', async () => {
    const two = Object.assign(new Mlp(0), { numClasses: 2 });
    const { x, y } = syntheticData(2, 1);
    let err: unknown;
    try {
      await new ApgdAttack({ steps: 1 }).perturb(createTarget(two, new IdentityToyDefense()), x, y, {
        logger: new MemoryLogger(),
        sampleIndices: [0, 1],
        seed: 0,
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(IncompatiblePluginError);
    tf.dispose([x, y]);
  });
});

describe('attack apgd: the plugin', () => {
  const registry = new PluginRegistry().use(plugin);

  it("is created through the registry with AutoAttack 'rand' defaults (100 iterations, ce then dlr, EoT 20)", async () => {
    const a = await registry.createScope().create<ApgdAttack>('attack', 'apgd', {});
    expect(a).to.be.instanceOf(ApgdAttack);
    expect(a.options).to.deep.equal({
      norm: 'linf',
      eps: null,
      steps: 100,
      losses: ['ce', 'dlr'],
      restarts: 1,
      eot: { samples: 20, microBatch: 16 },
      momentum: 0.75,
      rho: 0.75,
      gradient: 'target',
      deviation: null,
      selectionDraws: 20,
    });
    expect(a.threat).to.deep.equal({ norm: 'linf', eps: 8 / 255 });
    expect(a.protocol()).to.deep.include({ stepSize: null, eotSamples: 20, steps: 100 });
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await registry
      .createScope()
      .create('attack', 'apgd', { momentum: 2 })
      .then(
        () => expect.fail('accepted momentum 2'),
        (e: Error) =>
          expect(e)
            .to.be.instanceOf(ConfigValidationError)
            .and.to.have.property('message')
            .that.matches(/options of attack 'apgd'[\s\S]*\$\.momentum: must be <= 1/),
      );
    expect(() => new ApgdAttack({ losses: [] })).to.throw(
      ConfigValidationError,
      /options of attack 'apgd'[\s\S]*\$\.losses: must NOT have fewer than 1 items/,
    );
  });
});
