/**
 * `diffusion.trainTimesteps`: a DDPM trained (and evaluated) only on the noise levels a purification
 * uses (t = t* · T down to 0: trainTimesteps t* · T + 1). The timesteps a training step and the held-out evaluation draw stay below it; the
 * schedule is unchanged; a count above the schedule is refused.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type Dataset } from '@dbp-bench/framework';
import { readSafetensors, UNet, UNET_PRESETS } from '@dbp-bench/models';
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

  it('the exported weights record trainTimesteps in their metadata (absent when training drew all of the schedule)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-train-timesteps-'));
    const unet = new UNet(UNET_PRESETS.tiny, 1);
    try {
      new DiffusionTask('ddpm', unet, abar, undefined, undefined, 101).saveWeights(path.join(dir, 'limited.safetensors'), {
        trainer: 'ddpm',
      });
      new DiffusionTask('ddpm', unet, abar).saveWeights(path.join(dir, 'all.safetensors'), { trainer: 'ddpm' });
      expect(readSafetensors(path.join(dir, 'limited.safetensors')).metadata.trainTimesteps).to.equal('101');
      expect(readSafetensors(path.join(dir, 'all.safetensors')).metadata).to.not.have.property('trainTimesteps');
    } finally {
      unet.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the count: absent = the schedule; above the schedule is refused naming the field', () => {
    expect(trainTimestepCount({ timesteps: 1000 })).to.equal(1000);
    expect(trainTimestepCount({ timesteps: 1000, trainTimesteps: 100 })).to.equal(100);
    expect(() => trainTimestepCount({ timesteps: 1000, trainTimesteps: 1001 })).to.throw(
      /\$\.diffusion\.trainTimesteps: 1001 is more than the schedule's 1000/,
    );
  });
});
