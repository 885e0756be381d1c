/**
 * Per-row diagnostics the attacks report through AttackContext.reportDiagnostics: whether the first
 * gradient vanished (all zero or non-finite), PGD's step size, and which rows APGD returned clean.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, createTarget, type AttackDiagnostics, type Defense, type GradientMode } from '@dbp-bench/framework';
import { ApgdAttack } from '../src/attack/apgd';
import { DwBoxAttack } from '../src/attack/dw-box';
import { PgdAttack } from '../src/attack/pgd';
import { IdentityToyDefense, syntheticData, trainedMlp } from './helpers';

/** Identity forward; the backward pass zeroes the rows listed in `masked` (gradient masking on some rows). */
class RowMaskDefense implements Defense {
  readonly id = 'row-mask';
  readonly capabilities = { stochastic: false, streams: [], gradientModes: ['exact'] as GradientMode[], networkCalls: 0 };
  constructor(
    private readonly masked: readonly number[],
    private readonly value = 0,
  ) {}
  purify(x: tf.Tensor4D): tf.Tensor4D {
    const rows = x.shape[0];
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) =>
        tf.tidy(() => {
          const keep = tf.tensor4d(
            Array.from({ length: rows }, (_, i) => (this.masked.includes(i) ? 0 : 1)),
            [rows, 1, 1, 1],
            'bool',
          );
          return tf.where(tf.broadcastTo(keep, dy.shape), dy, tf.fill(dy.shape, this.value));
        }),
    }));
    return f(x) as tf.Tensor4D;
  }
}

async function diagnose(attack: PgdAttack | ApgdAttack, defense: Defense, n: number, seed = 31) {
  const classifier = await trainedMlp();
  const { x, y } = syntheticData(n, seed);
  const idx = Array.from({ length: n }, (_, i) => i);
  const target = createTarget(classifier, defense, { seed: 0, policy: attack instanceof PgdAttack ? attack.policy : 'fresh' });
  const got: AttackDiagnostics[] = [];
  const adv = await attack.perturb(target, x, y, {
    logger: new MemoryLogger(),
    sampleIndices: idx,
    seed: 0,
    reportDiagnostics: (d) => got.push(d),
  });
  const dist = tf.tidy(() => Array.from(tf.max(tf.abs(tf.sub(adv, x)), [1, 2, 3]).dataSync()));
  tf.dispose([adv, x, y]);
  expect(got).to.have.length(1);
  return { d: got[0], dist };
}

describe('attack diagnostics (reportDiagnostics)', () => {
  it('PGD: the masked rows vanish (zero and NaN gradients), the others do not; its step size is reported', async () => {
    const { d, dist } = await diagnose(
      new PgdAttack({ eps: 0.1, stepSize: 0.02, steps: 3, eot: { samples: 1 } }),
      new RowMaskDefense([1, 3]),
      4,
    );
    expect(d.gradientVanished).to.deep.equal([false, true, false, true]);
    expect(d.stepSize).to.equal(0.02);
    expect(d.keptClean).to.equal(undefined);
    expect(dist[1]).to.equal(0);
    expect(dist[0]).to.be.greaterThan(0);
    const nan = await diagnose(new PgdAttack({ eps: 0.1, steps: 1, eot: { samples: 1 } }), new RowMaskDefense([0], NaN), 2);
    expect(nan.d.gradientVanished).to.deep.equal([true, false]);
  });

  it('PGD with restarts and DW-box report every row once', async () => {
    const r = await diagnose(
      new PgdAttack({ eps: 0.05, steps: 2, restarts: 3, randomStart: true, eot: { samples: 1 }, selectionDraws: 1 }),
      new RowMaskDefense([2]),
      5,
    );
    expect(r.d.gradientVanished).to.deep.equal([false, false, true, false, false]);
    const dw = await diagnose(new DwBoxAttack({ policy: 'both', steps: 1 }), new IdentityToyDefense(), 3);
    expect(dw.d.gradientVanished).to.deep.equal([false, false, false]);
  });

  it('APGD: vanished rows, and the rows it returned clean on purpose (no iterate did better)', async () => {
    const { d, dist } = await diagnose(
      new ApgdAttack({ eps: 0.01, steps: 5, losses: ['ce'], eot: { samples: 1 }, selectionDraws: 1 }),
      new RowMaskDefense([0]),
      8,
      22,
    );
    expect(d.gradientVanished.length).to.equal(8);
    expect(d.stepSize).to.equal(undefined);
    // Row 0 is attacked with a masked gradient; rows fooled by the clean input are not attacked (no
    // gradient: null, kept clean).
    expect(d.gradientVanished[0]).to.equal(true);
    expect(d.gradientVanished.slice(1).filter((v) => v === false).length).to.be.at.least(4);
    d.gradientVanished.forEach((v, i) => {
      if (i !== 0 && v !== null) expect(v).to.equal(false);
      if (v === null) expect(d.keptClean![i]).to.equal(true);
    });
    d.keptClean!.forEach((k, i) => {
      if (k) expect(dist[i]).to.equal(0);
      else expect(dist[i]).to.be.greaterThan(0);
    });
    expect(d.keptClean!.some(Boolean)).to.equal(true);
  });

  it('leaks no tensors when reporting', async () => {
    await diagnose(new PgdAttack({ eps: 0.1, steps: 2, eot: { samples: 1 } }), new IdentityToyDefense(), 3);
    const before = tf.memory().numTensors;
    await diagnose(new PgdAttack({ eps: 0.1, steps: 2, eot: { samples: 2 } }), new IdentityToyDefense(), 3);
    await diagnose(
      new ApgdAttack({ eps: 0.05, steps: 3, losses: ['ce'], eot: { samples: 1 }, selectionDraws: 1 }),
      new IdentityToyDefense(),
      3,
    );
    expect(tf.memory().numTensors).to.equal(before);
  });
});
