/**
 * `diffusion.trainTimesteps`: a DDPM trained (and evaluated) only on the noise levels a purification
 * uses (t < t* · T). The timesteps a training step and the held-out evaluation draw stay below it; the
 * schedule is unchanged; a count above the schedule is refused.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type Dataset } from '@dbp-bench/framework';
import type { UNet } from '@dbp-bench/models';
import { alphasCumprod, linearBetas } from '@dbp-bench/defenses-dbp';
import { DiffusionTask, evaluateDenoising, trainTimestepCount } from '../src';

/** An eps-model with one weight that records the timesteps it is called with. */
function recordingModel(): { model: UNet; seen: number[]; dispose: () => void } {
  const w = tf.variable(tf.scalar(0.5));
  const seen: number[] = [];
  const model = {
    namedWeights: () => [['w', w]],
    trainableVariables: () => [w],
    setTraining: () => {},
    predictEps: (x: tf.Tensor4D, t: tf.Tensor1D) => {
      seen.push(...t.dataSync());
      return tf.mul(x, w) as tf.Tensor4D;
    },
  } as unknown as UNet;
  return { model, seen, dispose: () => w.dispose() };
}

describe('ddpm trainer: diffusion.trainTimesteps', () => {
  const abar = alphasCumprod(linearBetas(1000, 1e-4, 0.02));

  it('a training step and the evaluation draw t < trainTimesteps only; all of the schedule without it', async () => {
    const images = tf.randomUniform([64, 4, 4, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const labels = new Int32Array(64);
    const batch = { images, labels, indices: [...labels.keys()] };
    const limited = recordingModel();
    const out = new DiffusionTask('ddpm', limited.model, abar, undefined, undefined, 100).computeGradients(batch, new SeededRng(1));
    tf.dispose([out.loss, ...out.grads]);
    expect(limited.seen).to.have.length(64);
    expect(Math.max(...limited.seen)).to.be.below(100);
    const all = recordingModel();
    const out2 = new DiffusionTask('ddpm', all.model, abar).computeGradients(batch, new SeededRng(1));
    tf.dispose([out2.loss, ...out2.grads]);
    expect(Math.max(...all.seen)).to.be.at.least(100); // 64 uniform draws over 1000 reach above 100 (seeded)
    const dataset = {
      get: async (idx: number[]) => ({ images: tf.gather(images, idx), labels: new Int32Array(idx.length) }),
    } as unknown as Dataset;
    const evalModel = recordingModel();
    await evaluateDenoising(evalModel.model, dataset, [...Array(32).keys()], 16, abar, 0, 100);
    expect(evalModel.seen).to.have.length(32);
    expect(Math.max(...evalModel.seen)).to.be.below(100);
    [limited, all, evalModel].forEach((m) => m.dispose());
    images.dispose();
  });

  it('the count: absent = the schedule; above the schedule is refused naming the field', () => {
    expect(trainTimestepCount({ timesteps: 1000 })).to.equal(1000);
    expect(trainTimestepCount({ timesteps: 1000, trainTimesteps: 100 })).to.equal(100);
    expect(() => trainTimestepCount({ timesteps: 1000, trainTimesteps: 1001 })).to.throw(
      /\$\.diffusion\.trainTimesteps: 1001 is more than the schedule's 1000/,
    );
  });
});
