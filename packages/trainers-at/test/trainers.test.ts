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
    const clf = createClassifier(
      'small-cnn',
      { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [4, 4], hidden: 8 },
      3,
    );
    const rng = new SeededRng(1);
    const x = tf.tensor4d(
      Float32Array.from({ length: 4 * 256 }, () => rng.uniform()),
      [4, 16, 16, 1],
    );
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

describe('trainers-at: the inner maximisation equals Madry / TRADES written out, bit for bit', () => {
  // The threat geometry and the losses come from the framework (shared with the attacks and CGPO): a
  // change of operation order there must not change adversarial training silently.
  const l2 = (t: tf.Tensor): tf.Tensor => tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true));
  const project = (xa: tf.Tensor, x: tf.Tensor4D, norm: 'linf' | 'l2', eps: number): tf.Tensor4D => {
    let d = tf.sub(xa, x);
    d = norm === 'linf' ? tf.clipByValue(d, -eps, eps) : tf.mul(d, tf.minimum(1, tf.div(eps, tf.add(l2(d), 1e-10))));
    return tf.clipByValue(tf.add(x, d), 0, 1) as tf.Tensor4D;
  };
  const ascend = (xa: tf.Tensor, g: tf.Tensor, norm: 'linf' | 'l2', a: number): tf.Tensor =>
    tf.add(xa, tf.mul(norm === 'linf' ? tf.sign(g) : tf.div(g, tf.add(l2(g), 1e-10)), a));
  const same = (a: tf.Tensor, b: tf.Tensor): boolean => {
    const p = a.dataSync();
    const q = b.dataSync();
    return p.length === q.length && p.every((v, i) => Object.is(v, q[i]));
  };

  for (const [norm, eps, a] of [
    ['linf', 8 / 255, 2 / 255],
    ['l2', 0.5, 0.1],
  ] as ['linf' | 'l2', number, number][]) {
    it(`${norm}: PGD-AT (random start) and TRADES`, () => {
      const clf = createClassifier(
        'small-cnn',
        { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [4, 4], hidden: 8 },
        3,
      );
      const rng = new SeededRng(2);
      const x = tf.tensor4d(
        Float32Array.from({ length: 4 * 256 }, () => rng.uniform()),
        [4, 16, 16, 1],
      );
      const y = tf.tensor1d([0, 1, 2, 3], 'int32');
      const o = { norm, eps, stepSize: a, steps: 3, randomStart: true };
      const got = pgdCrossEntropy(clf, x, y, o, 7);
      const ref = tf.tidy(() => {
        let xa: tf.Tensor4D;
        if (norm === 'linf') xa = project(tf.add(x, tf.randomUniform(x.shape, -eps, eps, 'float32', 7)), x, norm, eps);
        else {
          const n = tf.randomNormal(x.shape, 0, 1, 'float32', 7);
          const r = tf.randomUniform([4, 1, 1, 1], 0, 1, 'float32', 8);
          xa = project(tf.add(x, tf.mul(tf.div(n, tf.add(l2(n), 1e-10)), tf.mul(r, eps))), x, norm, eps);
        }
        const ce = (z: tf.Tensor): tf.Scalar =>
          tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, 4), tf.logSoftmax(clf.logits(z as tf.Tensor4D))), 1))) as tf.Scalar;
        for (let k = 0; k < 3; k++)
          xa = project(ascend(xa, tf.grad((z: tf.Tensor) => tf.mul(ce(z), 4) as tf.Scalar)(xa), norm, a), x, norm, eps);
        return xa;
      });
      expect(same(got, ref)).to.equal(true);
      const gotT = tradesAttack(clf, x, o, 9);
      const refT = tf.tidy(() => {
        const p = tf.softmax(clf.logits(x));
        const kl = (z: tf.Tensor): tf.Scalar =>
          tf.sum(tf.mul(p, tf.sub(tf.log(tf.maximum(p, 1e-12)), tf.logSoftmax(clf.logits(z as tf.Tensor4D))))) as tf.Scalar;
        let xa = project(tf.add(x, tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', 9), 0.001)), x, norm, eps);
        for (let k = 0; k < 3; k++) xa = project(ascend(xa, tf.grad(kl)(xa), norm, a), x, norm, eps);
        return xa;
      });
      expect(same(gotT, refT)).to.equal(true);
      tf.dispose([x, y, got, ref, gotT, refT]);
      clf.dispose();
    });
  }
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
