/**
 * The conformance suite run on every attack of the package: PGD l_inf and l_2, DW-box, APGD, on the
 * undefended trained MLP and on a stochastic toy defense.
 */
import apgd, { ApgdAttack } from '../src/attack/apgd';
import dwBox, { DwBoxAttack } from '../src/attack/dw-box';
import pgd, { PgdAttack } from '../src/attack/pgd';
import { describeAttackConformance, type ConformanceFixture } from '../src/testing';
import { IdentityToyDefense, ToyNoiseDefense, syntheticData, trainedMlp } from './helpers';

const N = 12;
const indices = Array.from({ length: N }, (_, i) => 100 + i);

async function undefended(maxRobustAccuracy?: number): Promise<ConformanceFixture> {
  const classifier = await trainedMlp();
  const { x, y } = syntheticData(N, 7);
  return { classifier, defense: new IdentityToyDefense(), x, y, sampleIndices: indices, maxRobustAccuracy, minCleanAccuracy: 0.9 };
}

async function stochastic(streams: ('forward' | 'reverse')[] = ['forward', 'reverse']): Promise<ConformanceFixture> {
  const classifier = await trainedMlp();
  const { x, y } = syntheticData(N, 7);
  return { classifier, defense: new ToyNoiseDefense(streams, 0.05), x, y, sampleIndices: indices, draws: 4, minCleanAccuracy: 0.75 };
}

// PGD l_inf at a budget that matters (0.1 against prototypes 0.06 apart from the midpoint) breaks the undefended MLP.
describeAttackConformance(
  'pgd linf (undefended, trained MLP)',
  () => new PgdAttack({ norm: 'linf', eps: 0.1, stepSize: 0.02, steps: 10 }),
  () => undefended(0.1),
  {
    plugin: pgd,
    invalidOptions: [{ norm: 'l1' }, { steps: 0 }, { eps: -1 }, { eot: { samples: 0 } }, { loss: 'mse' }, { unknown: 1 }],
  },
);

describeAttackConformance(
  'pgd linf + EoT 3, random start, 2 restarts (stochastic toy defense)',
  () =>
    new PgdAttack({
      norm: 'linf',
      eps: 0.1,
      stepSize: 0.02,
      steps: 6,
      randomStart: true,
      restarts: 2,
      eot: { samples: 3, microBatch: 8 },
      selectionDraws: 2,
    }),
  () => stochastic(),
);

describeAttackConformance(
  'pgd l2 (undefended)',
  () => new PgdAttack({ norm: 'l2', eps: 0.6, stepSize: 0.15, steps: 8 }),
  () => undefended(0.25),
);

describeAttackConformance(
  'pgd l2 + EoT 2, cw loss, bpda (stochastic toy defense)',
  () =>
    new PgdAttack({ norm: 'l2', eps: 0.6, stepSize: 0.15, steps: 6, loss: 'cw', gradient: 'bpda', eot: { samples: 2, microBatch: 16 } }),
  () => stochastic(),
);

describeAttackConformance(
  'dw-box both (stochastic toy defense)',
  () => new DwBoxAttack({ policy: 'both', eps: 0.1, stepSize: 0.02, steps: 6 }),
  () => stochastic(),
  {
    plugin: dwBox,
    invalidOptions: [{ policy: 'fresh' }, { policy: 'none' }],
  },
);

describeAttackConformance(
  'dw-box fwd + EoT 2 (stochastic toy defense)',
  () => new DwBoxAttack({ policy: 'fwd', eps: 0.1, stepSize: 0.02, steps: 5, eot: { samples: 2, microBatch: 16 } }),
  () => stochastic(),
);

describeAttackConformance(
  'apgd ce+dlr (undefended)',
  () => new ApgdAttack({ eps: 0.1, steps: 12, eot: { samples: 1, microBatch: 16 }, selectionDraws: 1 }),
  () => undefended(0.1),
  {
    plugin: apgd,
    invalidOptions: [{ losses: [] }, { losses: ['mse'] }, { momentum: 2 }, { steps: 0 }],
  },
);

describeAttackConformance(
  'apgd l2 dlr + EoT 2 (stochastic toy defense)',
  () => new ApgdAttack({ norm: 'l2', eps: 0.6, steps: 8, losses: ['dlr'], eot: { samples: 2, microBatch: 16 }, selectionDraws: 3 }),
  () => stochastic(),
);
