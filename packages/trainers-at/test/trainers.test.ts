import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, Journal, MemoryLogger, PluginRegistry, SeededRng, type Trainer } from '@dbp-bench/framework';
import { createClassifier, loadClassifier } from '@dbp-bench/models';
import { FINAL_WEIGHTS, LOSS_LOG, pgdCrossEntropy, plugin, runTrainConfig, tradesAttack } from '../src';
import { canTrainConvs, memoryDatasetPlugin, tmpDir } from './helpers';

function registry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({ name: 'test', register: (x) => x.add(memoryDatasetPlugin) });
  r.use(plugin);
  return r;
}

describe('trainers-at: inner maximisation (PGD, TRADES) on a plain classifier', () => {
  it('l_inf and l_2 PGD stay in budget and [0,1] and raise the loss', () => {
    const clf = createClassifier('small-cnn', { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [4, 4], hidden: 8 }, 3);
    const rng = new SeededRng(1);
    const x = tf.tensor4d(Float32Array.from({ length: 4 * 256 }, () => rng.uniform()), [4, 16, 16, 1]);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const ce = (xx: tf.Tensor4D) => tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(y, 4), clf.logits(xx)).dataSync()[0]);
    const before = tf.memory().numTensors;
    for (const norm of ['linf', 'l2'] as const) {
      const eps = norm === 'linf' ? 8 / 255 : 0.5;
      const xa = pgdCrossEntropy(clf, x, y, { norm, eps, stepSize: norm === 'linf' ? 2 / 255 : 0.1, steps: 5, randomStart: true }, 7);
      const [dist, lo, hi] = tf.tidy(() => {
        const d = tf.sub(xa, x);
        const n = norm === 'linf' ? tf.max(tf.abs(d)) : tf.max(tf.sqrt(tf.sum(tf.square(d), [1, 2, 3])));
        return [n.dataSync()[0], tf.min(xa).dataSync()[0], tf.max(xa).dataSync()[0]];
      });
      expect(dist).to.be.at.most(eps + 1e-5);
      expect(lo).to.be.at.least(0);
      expect(hi).to.be.at.most(1);
      expect(ce(xa)).to.be.greaterThan(ce(x));
      xa.dispose();
    }
    const xt = tradesAttack(clf, x, { norm: 'linf', eps: 8 / 255, stepSize: 0.007, steps: 3, randomStart: true }, 9);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(xt, x))).dataSync()[0])).to.be.at.most(8 / 255 + 1e-6);
    xt.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    [x, y].forEach((t) => t.dispose());
    clf.dispose();
  });
});

describe('trainers-at: standard / pgd-at / trades trainers', function () {
  this.timeout(300000);
  before(function () {
    if (!canTrainConvs()) {
      console.log(`    (skipped: the ${tf.getBackend()} backend has no Conv2DBackpropFilter kernel, conv nets cannot be trained)`);
      this.skip();
    }
  });
  const base = (trainer: string, extra: Record<string, unknown> = {}) => ({
    trainer,
    options: {
      dataset: { id: 'memory', options: { n: 32, size: 16, channels: 1 } },
      model: { arch: 'small-cnn', config: { channels: [4, 8], hidden: 16 } },
      steps: 4,
      batchSize: 8,
      optimizer: { type: 'sgd', lr: 0.05 },
      checkpointEvery: 2,
      logEvery: 1,
      evalEvery: -1,
      attack: { eps: 0.1, stepSize: 0.05, steps: 2 },
      eval: { n: 16, batchSize: 16 },
      ...extra,
    },
  });
  function writeConfig(dir: string, cfg: unknown): string {
    const f = path.join(dir, 'cfg.json');
    fs.writeFileSync(f, JSON.stringify(cfg));
    return f;
  }

  for (const id of ['standard', 'pgd-at', 'trades']) {
    it(`${id}: trains from a config file, writes loadable weights and evaluates`, async () => {
      const dir = tmpDir(id);
      const res = await runTrainConfig(registry(), writeConfig(dir, base(id)), { logger: new MemoryLogger(), out: path.join(dir, 'out') });
      expect(res.partial).to.equal(false);
      expect(res.steps).to.equal(4);
      expect(Number.isFinite(res.finalLoss)).to.equal(true);
      const model = await loadClassifier(res.weights);
      expect(model.arch).to.equal('small-cnn');
      model.dispose();
      const log = Journal.read<Record<string, number | string>>(path.join(res.outDir, LOSS_LOG));
      const ev = log.filter((r) => r.kind === 'eval');
      expect(ev.length).to.equal(1);
      expect(ev[0].cleanAcc).to.be.a('number');
      if (id === 'standard') expect(ev[0]).to.not.have.property('pgdAcc');
      else expect(ev[0].pgdAcc as number).to.be.at.most(ev[0].cleanAcc as number);
    });
  }

  it('resume of a batch-norm net (resnet20) with pgd-at gives bit-identical weights; existing output is refused without --resume', async () => {
    const cfg = base('pgd-at', {
      dataset: { id: 'memory', options: { n: 24, size: 16, channels: 3 } },
      model: { arch: 'resnet20', config: { width: 4, blocksPerStage: 1 } },
      augment: { crop: 2, flip: true },
      schedule: { type: 'cosine', warmupSteps: 1 },
      optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      steps: 5,
      eval: { enabled: false },
    });
    const dir = tmpDir('resume-at');
    const file = writeConfig(dir, cfg);
    const full = await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'full') });
    const part = await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'part'), stopAfterSteps: 3 });
    expect(part.partial).to.equal(true);
    let refused: Error | undefined;
    try {
      await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'part') });
    } catch (e) {
      refused = e as Error;
    }
    expect(refused?.message).to.match(/already holds a checkpoint at step 3; pass --resume/);
    const done = await runTrainConfig(registry(), file, { logger: new MemoryLogger(), out: path.join(dir, 'part'), resume: true });
    expect(done.steps).to.equal(5);
    expect(fs.readFileSync(done.weights).equals(fs.readFileSync(full.weights))).to.equal(true);
    expect(path.basename(done.weights)).to.equal(FINAL_WEIGHTS);
  });

  it('rejects bad configs with the field named', async () => {
    const dir = tmpDir('bad');
    const r = registry();
    const bad = base('pgd-at', { optimizer: { type: 'rmsprop' } });
    let err: unknown;
    try {
      await runTrainConfig(r, writeConfig(dir, bad), { logger: new MemoryLogger(), out: path.join(dir, 'o') });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect((err as Error).message).to.match(/\$\.options\.optimizer\.type: must be one of "sgd", "adam", "adamw"/);
    const trainer = await r.createScope().create<Trainer>('trainer', 'standard', { dataset: { id: 'nope' }, model: { arch: 'small-cnn' } });
    let err2: Error | undefined;
    try {
      await trainer.train({ outDir: path.join(dir, 'o2'), logger: new MemoryLogger() });
    } catch (e) {
      err2 = e as Error;
    }
    expect(err2?.message).to.match(/unknown dataset 'nope'/);
  });
});
