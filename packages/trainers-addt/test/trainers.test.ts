import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Journal, MemoryLogger, PluginRegistry } from '@dbp-bench/framework';
import { createClassifier, loadUNet, saveModel } from '@dbp-bench/models';
import { plugin as atPlugin, runTrainConfig, LOSS_LOG } from '@dbp-bench/trainers-at';
import { plugin } from '../src';
import { blobs } from './helpers';

function registry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({ name: 'test', register: (x) => x.add(blobs) });
  r.use(atPlugin);
  r.use(plugin);
  return r;
}

function tmp(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dbp-${prefix}-`));
}

describe('trainers-addt: ddpm and addt trainers', function () {
  this.timeout(300000);
  before(function () {
    if (!tf.getKernel('Conv2DBackpropFilter', tf.getBackend())) {
      console.log(`    (skipped: the ${tf.getBackend()} backend has no Conv2DBackpropFilter kernel, UNets cannot be trained)`);
      this.skip();
    }
  });
  let dir: string;
  let classifierFile: string;
  let ddpmWeights: string;
  const common = {
    dataset: { id: 'blobs', options: { n: 8 } },
    model: { preset: 'tiny', dropout: 0.1 },
    batchSize: 2,
    steps: 3,
    checkpointEvery: 2,
    logEvery: 1,
    evalEvery: -1,
    eval: { n: 4, batchSize: 4 },
    ema: { maxDecay: 0.99 },
  };
  before(() => {
    dir = tmp('addt');
    const clf = createClassifier(
      'small-cnn',
      { numClasses: 10, inputShape: [16, 16, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channels: [4, 4], hidden: 8 },
      4,
    );
    classifierFile = path.join(dir, 'clf.safetensors');
    saveModel(classifierFile, clf);
    clf.dispose();
  });
  const write = (name: string, cfg: unknown): string => {
    const f = path.join(dir, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify(cfg));
    return f;
  };

  it('ddpm: trains a UNet from scratch with EMA, writes loadable EMA weights, loss log and eval', async () => {
    const before = tf.memory().numTensors;
    const res = await runTrainConfig(registry(), write('ddpm', { trainer: 'ddpm', options: common }), {
      logger: new MemoryLogger(),
      out: path.join(dir, 'ddpm'),
    });
    expect(tf.memory().numTensors).to.equal(before);
    ddpmWeights = res.weights;
    const unet = await loadUNet(res.weights);
    expect(unet.config.dropout).to.equal(0.1);
    unet.dispose();
    const log = Journal.read<Record<string, number | string>>(path.join(res.outDir, LOSS_LOG));
    expect(log.filter((r) => r.kind === 'train').length).to.equal(3);
    const ev = log.filter((r) => r.kind === 'eval');
    expect(ev.length).to.equal(1);
    expect(ev[0].evalMse).to.be.greaterThan(0);
    const result = JSON.parse(fs.readFileSync(path.join(res.outDir, 'result.json'), 'utf8'));
    expect(result.ema).to.equal(true);
  });

  it('addt: fine-tunes with CGPO (K=2) and resumes to bit-identical weights', async () => {
    const cfg = {
      trainer: 'addt',
      options: {
        ...common,
        model: { init: path.relative(dir, ddpmWeights) },
        classifier: 'clf.safetensors',
        cgpo: { iterations: 2 },
        steps: 4,
        eval: { enabled: false },
      },
    };
    const file = write('addt', cfg);
    const full = await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'addt-full') });
    const log = Journal.read<Record<string, number | string>>(path.join(full.outDir, LOSS_LOG)).filter((r) => r.kind === 'train');
    expect(log.length).to.equal(4);
    for (const r of log) expect(r.cgpoCe).to.be.a('number');
    await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'addt-part'), stopAfterSteps: 1 });
    const done = await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'addt-part'), resume: true });
    expect(fs.readFileSync(done.weights).equals(fs.readFileSync(full.weights))).to.equal(true);
    // fine-tuning changed the weights
    expect(fs.readFileSync(full.weights).equals(fs.readFileSync(ddpmWeights))).to.equal(false);
  });

  for (const ablation of ['no-rbgm', 'no-guidance'] as const) {
    it(`addt ablation ${ablation} runs`, async () => {
      const cfg = {
        trainer: 'addt',
        options: {
          ...common,
          steps: 1,
          ablation,
          classifier: ablation === 'no-guidance' ? null : 'clf.safetensors',
          cgpo: { iterations: 2 },
          eval: { enabled: false },
        },
      };
      const res = await runTrainConfig(registry(), write(ablation, cfg), { logger: new MemoryLogger(), out: path.join(dir, ablation) });
      const rec = Journal.read<Record<string, number | string>>(path.join(res.outDir, LOSS_LOG)).filter((r) => r.kind === 'train')[0];
      expect(rec[ablation === 'no-guidance' ? 'cgpoMse' : 'cgpoCe']).to.be.a('number');
      expect(Number.isFinite(res.finalLoss)).to.equal(true);
    });
  }

  it('addt without a classifier is refused (except for no-guidance)', async () => {
    const cfg = { trainer: 'addt', options: { ...common, steps: 1 } };
    let err: Error | undefined;
    try {
      await runTrainConfig(registry(), write('nocls', cfg), { logger: new MemoryLogger(), out: path.join(dir, 'nocls') });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/\$\.classifier: required for ablation 'none'/);
  });
});
