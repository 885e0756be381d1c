/**
 * DW-box on the real DBP purifiers of @dbp-bench/defenses-dbp with a tiny epsilon model:
 * on DP_DDIM (eta = 0) DW_Fwd equals DW_Both (ALGORITHMS.md §13 item 9); on DP_DDPM it does not.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, type EpsModel } from '@dbp-bench/framework';
import { DpDdim, DpDdpm } from '@dbp-bench/defenses-dbp';
import { DwBoxAttack } from '../src/attack/dw-box';
import { PgdAttack } from '../src/attack/pgd';
import { attackAndEvaluate } from '../src/run';
import { maxAbsDiff, syntheticData, trainedMlp } from './helpers';

/** eps(x, t) = 0.5·tanh(conv3x3(x) + t/1000): differentiable, cheap, time-dependent. */
class TinyEps implements EpsModel {
  private readonly k = tf.keep(tf.tensor4d([0.1, -0.2, 0.1, 0.3, 0.5, -0.1, 0.05, 0.2, -0.15], [3, 3, 1, 1]));
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    return tf.tidy(
      () => tf.mul(tf.tanh(tf.add(tf.conv2d(x, this.k, 1, 'same'), tf.reshape(tf.div(t, 1000), [-1, 1, 1, 1]))), 0.5) as tf.Tensor4D,
    );
  }
}

describe('DW-box on DP_DDIM / DP_DDPM with a tiny epsilon model', function () {
  const idx = [3, 4, 5, 6, 7, 8];
  const opts = { eps: 0.05, stepSize: 0.0125, steps: 4 };

  it('DP_DDIM (eta = 0) draws only forward noise: DW_Fwd gives exactly the DW_Both result, and says so', async () => {
    const classifier = await trainedMlp();
    const defense = new DpDdim(new TinyEps(), { numInferenceSteps: 100 });
    expect(defense.capabilities.streams).to.deep.equal(['forward']);
    const { x, y } = syntheticData(6, 41);
    const logger = new MemoryLogger();
    const fwd = new DwBoxAttack({ ...opts, policy: 'fwd' });
    const rf = await attackAndEvaluate(fwd, classifier, defense, x, y, idx, { seed: 2, draws: 2, logger });
    const rb = await attackAndEvaluate(new DwBoxAttack({ ...opts, policy: 'both' }), classifier, defense, x, y, idx, { seed: 2, draws: 2 });
    expect(maxAbsDiff(rf.xAdv, rb.xAdv)).to.equal(0);
    expect(maxAbsDiff(rf.xAdv, x)).to.be.greaterThan(0);
    expect(rf.adversarial).to.deep.equal(rb.adversarial);
    expect(rf.robustSummary).to.deep.equal(rb.robustSummary);
    expect(rf.notes.join(' ')).to.match(/dp-ddim.*DW_Fwd equals DW_Both/);
    expect(logger.lines.join('\n')).to.match(/DW_Fwd equals DW_Both/);
    // and DW_Rev keys nothing DP_DDIM draws: it is the white-box setting (with EoT 1)
    const rev = new DwBoxAttack({ ...opts, policy: 'rev' });
    const rr = await attackAndEvaluate(rev, classifier, defense, x, y, idx, { seed: 2 });
    const rw = await attackAndEvaluate(new PgdAttack({ ...opts, eot: { samples: 1 } }), classifier, defense, x, y, idx, { seed: 2 });
    expect(rev.notes.join(' ')).to.match(/DW_Rev equals the white-box setting/);
    expect(maxAbsDiff(rr.xAdv, rw.xAdv)).to.equal(0);
    tf.dispose([rf.xAdv, rb.xAdv, rr.xAdv, rw.xAdv, x, y]);
  });

  it('DP_DDPM also draws reverse noise: DW_Fwd differs from DW_Both', async () => {
    const classifier = await trainedMlp();
    const defense = new DpDdpm(new TinyEps(), { numInferenceSteps: 100 });
    expect(defense.capabilities.streams).to.include('reverse');
    const { x, y } = syntheticData(6, 41);
    const fwd = new DwBoxAttack({ ...opts, policy: 'fwd' });
    const rf = await attackAndEvaluate(fwd, classifier, defense, x, y, idx, { seed: 2 });
    const rb = await attackAndEvaluate(new DwBoxAttack({ ...opts, policy: 'both' }), classifier, defense, x, y, idx, { seed: 2 });
    expect(maxAbsDiff(rf.xAdv, rb.xAdv)).to.be.greaterThan(0);
    expect(fwd.notes).to.deep.equal([]);
    tf.dispose([rf.xAdv, rb.xAdv, x, y]);
  });
});
