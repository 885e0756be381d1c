/**
 * Progress bars of the attacks: labelled with the name the caller gives the attack (a run config's
 * attack `name`, passed as `label` in the attack context), else with the attack's own label; one bar
 * per perturb() call, finished when it returns.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, createTarget, type Attack } from '@dbp-bench/framework';
import { ApgdAttack } from '../src/attack/apgd';
import { DiffHammerAttack } from '../src/attack/diffhammer';
import { PgdAttack } from '../src/attack/pgd';
import { ToyNoiseDefense, syntheticData, trainedMlp } from './helpers';

describe('attack progress bars', () => {
  const cases: [string, () => Attack, RegExp, number][] = [
    ['pgd', () => new PgdAttack({ eps: 0.05, steps: 3, eot: { samples: 2 } }), /^pgd linf eps=0\.0500$/, 3],
    [
      'apgd',
      () => new ApgdAttack({ eps: 0.05, steps: 3, losses: ['ce'], eot: { samples: 2 }, selectionDraws: 1 }),
      /^apgd linf eps=0\.0500$/,
      3,
    ],
    ['diffhammer', () => new DiffHammerAttack({ eps: 0.05, evaluations: 2, steps: 3, losses: ['ce'] }), /^diffhammer linf eps=0\.0500$/, 3],
  ];
  for (const [id, make, own, steps] of cases) {
    it(`${id}: the bar is labelled with the context's label (the config name), else its own`, async () => {
      const classifier = await trainedMlp();
      const { x, y } = syntheticData(3, 41);
      const target = createTarget(classifier, new ToyNoiseDefense(['forward', 'reverse'], 0.05), { seed: 2 });
      for (const label of ['PGD-5+EoT-2', undefined]) {
        const logger = new MemoryLogger();
        const adv = await make().perturb(target, x, y, { logger, sampleIndices: [0, 1, 2], seed: 1, ...(label ? { label } : {}) });
        adv.dispose();
        expect(logger.bars, 'one bar per perturb() call').to.have.length(1);
        const bar = logger.bars[0];
        if (label) expect(bar.label).to.equal(label);
        else expect(bar.label).to.match(own);
        expect(bar.finished).to.equal(true);
        // one unit per step of every run it started (a run that fools every row ends the attack early)
        expect(bar.done).to.be.within(1, bar.total);
        expect(bar.total % steps).to.equal(0);
      }
      tf.dispose([x, y]);
    });
  }
});
