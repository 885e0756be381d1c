/**
 * Slow tier (RUN_SLOW=1): the attacks and analyses on DP_DDPM / DP_DDIM with the real tiny UNet of
 * @dbp-bench/models (16x16x3, 11 purification steps) and exact gradients through the checkpointed chain.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type Classifier } from '@dbp-bench/framework';
import { DpDdim, DpDdpm } from '@dbp-bench/defenses-dbp';
import { UNET_PRESETS, UNet } from '@dbp-bench/models';
import { analyzeTrajectories } from '../src/analysis/trajectories';
import { DwBoxAttack } from '../src/attack/dw-box';
import { PgdAttack } from '../src/attack/pgd';
import { attackAndEvaluate } from '../src/run';
import { describeAttackConformance, type ConformanceFixture } from '../src/testing';

const SLOW = process.env.RUN_SLOW === '1';
const S = 16;

/** A fixed random linear classifier on 16x16x3 images. */
class LinearClassifier implements Classifier {
  readonly numClasses = 4;
  private readonly w: tf.Tensor2D;
  constructor(seed = 0) {
    const rng = new SeededRng(seed, 'linear');
    this.w = tf.keep(
      tf.tensor2d(
        Float32Array.from({ length: S * S * 3 * 4 }, () => rng.normal() * 0.05),
        [S * S * 3, 4],
      ),
    );
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.reshape(tf.sub(x, 0.5), [x.shape[0], -1]) as tf.Tensor2D, this.w));
  }
}

let unet: UNet | undefined;
function tinyUnet(): UNet {
  unet ??= new UNet({ ...UNET_PRESETS.tiny, sampleSize: S }, 0);
  return unet;
}

function images(n: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const classifier = new LinearClassifier();
  const rng = new SeededRng(3, 'images');
  const x = tf.tensor4d(
    Float32Array.from({ length: n * S * S * 3 }, () => rng.uniform()),
    [n, S, S, 3],
  );
  // labels = the classifier's own clean predictions, so clean accuracy is high
  const y = tf.tidy(() => tf.argMax(classifier.logits(x), 1).toInt()) as tf.Tensor1D;
  return { x, y };
}

if (SLOW) {
  describeAttackConformance(
    '@slow pgd linf + EoT 2 on DP_DDPM (tiny UNet, 11 steps)',
    () => new PgdAttack({ eps: 8 / 255, steps: 3, eot: { samples: 2, microBatch: 4 } }),
    (): ConformanceFixture => ({
      classifier: new LinearClassifier(),
      defense: new DpDdpm(tinyUnet(), { numInferenceSteps: 100 }),
      ...images(2),
      sampleIndices: [0, 1],
      draws: 2,
    }),
  );
}

describe('@slow DW-box and analyses on the real DBP purifiers', function () {
  before(function () {
    if (!SLOW) {
      console.log('    (skipped: set RUN_SLOW=1 to run the slow attack tests on the tiny UNet)');
      this.skip();
    }
  });

  it('DW_Fwd equals DW_Both on DP_DDIM with the tiny UNet', async () => {
    const defense = new DpDdim(tinyUnet(), { numInferenceSteps: 100 });
    const { x, y } = images(2);
    const opts = { steps: 2 };
    const fwd = new DwBoxAttack({ ...opts, policy: 'fwd' });
    const rf = await attackAndEvaluate(fwd, new LinearClassifier(), defense, x, y, [0, 1], { seed: 1 });
    const rb = await attackAndEvaluate(new DwBoxAttack({ ...opts, policy: 'both' }), new LinearClassifier(), defense, x, y, [0, 1], {
      seed: 1,
    });
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(rf.xAdv, rb.xAdv))).dataSync()[0]);
    expect(d).to.equal(0);
    expect(fwd.notes.join(' ')).to.match(/DW_Fwd equals DW_Both/);
    tf.dispose([rf.xAdv, rb.xAdv, x, y]);
  });

  it('trajectories on DP_DDPM with the tiny UNet', async () => {
    const defense = new DpDdpm(tinyUnet(), { numInferenceSteps: 100 });
    const { x, y } = images(1);
    const label = y.dataSync()[0];
    const report = await analyzeTrajectories(new LinearClassifier(), defense, x, label, 0, {
      steps: 2,
      runs: 2,
      eotSamples: 2,
      lossDraws: 2,
    });
    expect(report.runs).to.have.length(5);
    expect(report.runs.every((r) => r.loss.every(Number.isFinite))).to.equal(true);
    tf.dispose([x, y]);
  });
});
