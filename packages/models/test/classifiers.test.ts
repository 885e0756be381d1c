import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { CLASSIFIER_ARCHS, createClassifier, defaultClassifierConfig, type ClassifierConfig } from '../src';
import { ConfigValidationError, UnknownPluginError } from '@dbp-bench/framework';

const tinyConfigs: Record<string, ClassifierConfig> = {
  'small-cnn': { numClasses: 10, inputShape: [16, 16, 1], mean: [0.1307], std: [0.3081], channels: [4, 8], hidden: 16 },
  resnet20: { numClasses: 10, inputShape: [8, 8, 3], mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2], width: 4, blocksPerStage: 1 },
  resnet56: { numClasses: 10, inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], width: 4, blocksPerStage: 2 },
  'preact-resnet18': { numClasses: 5, inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], width: 4, blocksPerStage: [1, 1, 1, 1] },
  'wrn-28-10': { numClasses: 10, inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], depth: 10, widenFactor: 1 },
};

describe('classifiers', () => {
  it('full-size parameter counts match the PyTorch models', () => {
    const want: Record<string, number> = {
      'small-cnn': 312_202, // TRADES SmallCNN
      resnet20: 269_722, // akamaster: 0.27M
      resnet56: 853_018, // akamaster: 0.85M
      'preact-resnet18': 11_172_170, // 11,171,146 + final bn (1,024)
    };
    for (const [arch, n] of Object.entries(want)) {
      const m = createClassifier(arch as never, defaultClassifierConfig(arch as never));
      expect(m.parameterCount(), arch).to.equal(n);
      m.dispose();
    }
  });

  it('wrn-28-10 has the 36,479,194 parameters of RobustBench Standard and its state-dict names', () => {
    const m = createClassifier('wrn-28-10', defaultClassifierConfig('wrn-28-10'));
    try {
      expect(m.parameterCount()).to.equal(36_479_194);
      const names = [...m.namedWeights().keys()];
      for (const n of [
        'conv1.weight',
        'block1.layer.0.bn1.running_var',
        'block1.layer.0.convShortcut.weight',
        'block3.layer.3.conv2.weight',
        'bn1.weight',
        'fc.bias',
      ]) {
        expect(names, n).to.include(n);
      }
      expect(names).to.not.include('block1.layer.1.convShortcut.weight');
    } finally {
      m.dispose();
    }
  });

  for (const arch of CLASSIFIER_ARCHS) {
    it(`${arch}: logits shape, eval determinism, input gradient, no leak`, () => {
      const cfg = tinyConfigs[arch];
      const m = createClassifier(arch, cfg, 1);
      const x = tf.randomUniform([3, ...cfg.inputShape], 0, 1, 'float32', 4) as tf.Tensor4D;
      try {
        const y1 = m.logits(x);
        const y2 = m.logits(x);
        expect(y1.shape).to.deep.equal([3, cfg.numClasses]);
        expect(Array.from(y1.dataSync())).to.deep.equal(Array.from(y2.dataSync()));
        tf.dispose([y1, y2]);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 2; i++) {
          const g = tf.grad((xx) => tf.sum(m.logits(xx as tf.Tensor4D)))(x);
          expect(g.shape).to.deep.equal(x.shape);
          expect(g.dataSync().some((v) => v !== 0)).to.equal(true);
          g.dispose();
        }
        expect(tf.memory().numTensors).to.equal(before);
      } finally {
        m.dispose();
        x.dispose();
      }
    });
  }

  it('batch norm: training mode uses batch statistics and updates the running ones; eval uses running ones', () => {
    const m = createClassifier('resnet20', tinyConfigs.resnet20, 2);
    const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const rm = m.namedWeights().get('bn1.running_mean')!;
    const rv = m.namedWeights().get('bn1.running_var')!;
    expect(Array.from(rm.dataSync()).every((v) => v === 0)).to.equal(true);
    const evalOut = m.logits(x);
    expect(Array.from(rm.dataSync()).every((v) => v === 0)).to.equal(true);
    m.setTraining(true);
    const trainOut = m.logits(x);
    // running_mean = 0.9 * 0 + 0.1 * batch mean of conv1 output
    const conv1 = m.namedWeights().get('conv1.weight')!;
    const mean = tf.tidy(() => {
      const xn = tf.div(tf.sub(x, tf.tensor1d([0.5, 0.4, 0.3])), 0.2);
      return tf.mean(tf.conv2d(xn as tf.Tensor4D, conv1 as tf.Tensor4D, 1, 'same'), [0, 1, 2]).dataSync();
    });
    const got = rm.dataSync();
    for (let i = 0; i < mean.length; i++) expect(got[i]).to.be.closeTo(0.1 * mean[i], 1e-5);
    expect(Array.from(rv.dataSync()).some((v) => v !== 1)).to.equal(true);
    expect(Array.from(trainOut.dataSync())).to.not.deep.equal(Array.from(evalOut.dataSync()));
    m.setTraining(false);
    const eval2 = m.logits(x);
    expect(Array.from(eval2.dataSync())).to.not.deep.equal(Array.from(evalOut.dataSync())); // running stats changed
    tf.dispose([x, evalOut, trainOut, eval2]);
    m.dispose();
  });

  it('normalisation is applied inside logits', () => {
    const a = createClassifier('small-cnn', tinyConfigs['small-cnn'], 3);
    const b = createClassifier('small-cnn', { ...tinyConfigs['small-cnn'], mean: [0], std: [1] }, 3);
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
    const xn = tf.div(tf.sub(x, 0.1307), 0.3081) as tf.Tensor4D;
    const ya = a.logits(x).dataSync();
    const yb = b.logits(xn).dataSync();
    for (let i = 0; i < ya.length; i++) expect(ya[i]).to.be.closeTo(yb[i], 1e-4);
    a.dispose();
    b.dispose();
    tf.dispose([x, xn]);
  });

  it('bad configs fail with typed errors', () => {
    expect(() => createClassifier('resnet20', { numClasses: 10, inputShape: [32, 32, 3], mean: [0], std: [1, 1, 1] })).to.throw(
      ConfigValidationError,
      /mean: expected 3 numbers/,
    );
    expect(() => createClassifier('nope' as never, defaultClassifierConfig('resnet20'))).to.throw(UnknownPluginError, /resnet20/);
    expect(() => createClassifier('wrn-28-10', { ...defaultClassifierConfig('wrn-28-10'), depth: 27 })).to.throw(
      ConfigValidationError,
      /6n\+4/,
    );
  });
});
