import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { MemoryLogger, type Trainer } from '@dbp-bench/framework';
import { loadUNet } from '@dbp-bench/models';
import type { DiffusionTrainOptions } from '../../src';
import { expectRefused, trainerRegistry } from './fixture';

describe('trainer ddpm', function () {
  this.timeout(120000);

  it('has the ADDT recipe defaults: AdamW 2e-4, batch 256, clip 1, EMA 0.9999, flips; linear betas 1e-4..0.02 over 1000 steps; preset mnist', () => {
    const o = trainerRegistry().options<DiffusionTrainOptions>('trainer', 'ddpm', { dataset: { id: 'blobs' } }) as DiffusionTrainOptions;
    expect(o.optimizer).to.deep.include({ type: 'adamw', lr: 2e-4, betas: [0.95, 0.999], weightDecay: 1e-6, eps: 1e-8 });
    expect(o).to.deep.include({ batchSize: 256, gradClip: 1 });
    expect(o.ema).to.deep.include({ enabled: true, maxDecay: 0.9999, warmup: true, power: 0.75, invGamma: 1 });
    expect(o.augment).to.deep.equal({ flip: true, crop: 0 });
    expect(o.diffusion).to.deep.equal({ timesteps: 1000, betaStart: 1e-4, betaEnd: 0.02 });
    expect(o.model).to.deep.equal({ preset: 'mnist', config: {}, init: null, dropout: null });
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRefused('ddpm', { diffusion: { betaEnd: 1 } }, /\$\.diffusion\.betaEnd: must be < 1/);
    await expectRefused('ddpm', { model: { preset: 'huge' } }, /\$\.model\.preset: must be one of/);
    await expectRefused('ddpm', { classifier: 'clf.safetensors' }, /\$\.classifier: is not a known field/);
  });

  it('trains a tiny UNet for one step and writes loadable weights; a UNet that does not fit the images is refused', async function () {
    if (!tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) this.skip();
    const scope = trainerRegistry().createScope();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-ddpm-'));
    const common = { dataset: { id: 'blobs', options: { n: 4 } }, batchSize: 2, steps: 1, evalEvery: -1, eval: { enabled: false } };
    const t = await scope.create<Trainer>('trainer', 'ddpm', { ...common, model: { preset: 'tiny' } });
    const res = await t.train({ outDir: path.join(dir, 'a'), logger: new MemoryLogger() });
    expect(res.steps).to.equal(1);
    expect(Number.isFinite(res.finalLoss)).to.equal(true);
    const u = await loadUNet(res.weights);
    expect(u.config.sampleSize).to.equal(16);
    u.dispose();
    // the default preset (mnist, 28x28x1) does not fit the 16x16x3 images
    const bad = await scope.create<Trainer>('trainer', 'ddpm', common);
    const err = await bad.train({ outDir: path.join(dir, 'b'), logger: new MemoryLogger() }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.match(/the UNet takes 28x28x1 .* but dataset 'blobs' has 16x16x3 images/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
