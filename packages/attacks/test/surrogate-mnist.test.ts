/**
 * Lee & Kim surrogate gradients against exact gradients on the MNIST demo (ALGORITHMS.md §14.3,
 * issue acceptance: the new attack must reach robust accuracy no higher than PGD+EoT of the same
 * budget on the same samples, or the docs say why). DP_DDPM with the vanilla demo DDPM
 * (N = 50 -> 6 steps at t* = 0.1) and the standard SmallCNN; the same PGD (l_inf 0.3, step 0.1,
 * 5 steps, EoT-2, fresh noise) once with exact gradients and once through the surrogate
 * (N = 10 -> 2 steps); both evaluated with R = 4 fresh purifications of the defended process.
 * The measured numbers are in ALGORITHMS.md §14.3.
 */
import { expect } from 'chai';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, createTarget } from '@dbp-bench/framework';
import { MnistDataset, selectSubset } from '@dbp-bench/datasets';
import { DpDdpm } from '@dbp-bench/defenses-dbp';
import { loadClassifier, loadUNet, type ClassifierModel, type UNet } from '@dbp-bench/models';
import { PgdAttack, evaluateRandomized } from '../src';

const WEIGHTS = path.resolve(__dirname, '..', '..', '..', '..', 'weights', 'mnist');
const R = 4;

describe('surrogate vs exact gradients on the MNIST demo (PGD-5+EoT-2, 16 images) @slow', function () {
  this.timeout(3600000);
  let clf: ClassifierModel;
  let unet: UNet;

  before(async () => {
    clf = await loadClassifier(path.join(WEIGHTS, 'small-cnn.safetensors'));
    unet = await loadUNet(path.join(WEIGHTS, 'ddpm-mnist.safetensors'));
  });
  after(() => {
    clf.dispose();
    unet.dispose();
  });

  it('both attacks lower the accuracy; surrogate and exact robust accuracies are reported', async () => {
    const ds = new MnistDataset({ split: 'test' });
    const idx = selectSubset(ds, { kind: 'stratified', n: 16, seed: 0 });
    const b = await ds.get(idx);
    const x = b.images;
    const y = tf.tensor1d(b.labels, 'int32');
    const defense = new DpDdpm(unet, { numInferenceSteps: 50, surrogate: { numInferenceSteps: 10 } });
    expect(defense.surrogate().capabilities.networkCalls).to.equal(2);
    const acc = (ev: ReturnType<typeof evaluateRandomized>): number => ev.reduce((s, e) => s + e.mean, 0) / ev.length;
    const clean = acc(evaluateRandomized(createTarget(clf, defense, { seed: 1 }), x, y, idx, R));
    const result: Record<string, number> = { clean };
    for (const gradient of ['exact', 'surrogate'] as const) {
      const target = createTarget(clf, defense, { seed: 1, gradient });
      const attack = new PgdAttack({ norm: 'linf', eps: 0.3, stepSize: 0.1, steps: 5, eot: { samples: 2 }, gradient });
      const t0 = Date.now();
      const adv = await attack.perturb(target, x, y, { logger: new MemoryLogger(), sampleIndices: idx, seed: 1 });
      const seconds = (Date.now() - t0) / 1000;
      result[gradient] = acc(evaluateRandomized(target, adv, y, idx, R));
      result[`${gradient}Seconds`] = seconds;
      adv.dispose();
    }
    console.log(`MNIST demo, n = 16, R = ${R}, seed 1: ${JSON.stringify(result)}`);
    expect(result.exact).to.be.below(clean);
    expect(result.surrogate).to.be.below(clean);
    tf.dispose([x, y]);
  });
});
