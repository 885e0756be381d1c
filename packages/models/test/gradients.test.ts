import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { UNet, UNET_PRESETS, createClassifier, type ClassifierConfig } from '../src';

/**
 * The input gradient (as attacks use it) agrees with a central finite difference along a random
 * direction: this covers the backward of padded stride-2 convs, option-A shortcuts, group norm,
 * attention and nearest upsampling on the active backend (and its replacement kernels).
 */
function checkDirectional(f: (x: tf.Tensor4D) => tf.Scalar, x: tf.Tensor4D, h = 1e-2): { analytic: number; numeric: number } {
  const v = tf.randomNormal(x.shape, 0, 1, 'float32', 99) as tf.Tensor4D;
  const g = tf.grad((xx) => f(xx as tf.Tensor4D))(x);
  const analytic = tf.sum(tf.mul(g, v)).dataSync()[0];
  const fp = f(tf.add(x, tf.mul(v, h)) as tf.Tensor4D).dataSync()[0];
  const fm = f(tf.sub(x, tf.mul(v, h)) as tf.Tensor4D).dataSync()[0];
  return { analytic, numeric: (fp - fm) / (2 * h) };
}

function expectClose(r: { analytic: number; numeric: number }): void {
  if (process.env.DBP_DEBUG_GRAD) console.log(r);
  expect(Math.abs(r.numeric), 'the directional derivative is not negligible').to.be.greaterThan(1e-3);
  expect(Math.abs(r.analytic - r.numeric), `analytic ${r.analytic} vs numeric ${r.numeric}`).to.be.lessThan(0.1 * Math.abs(r.numeric));
}

describe('input gradients vs finite differences', () => {
  const cases: [string, ClassifierConfig][] = [
    ['resnet20', { numClasses: 10, inputShape: [8, 8, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], width: 4, blocksPerStage: 1 }],
    ['wrn-28-10', { numClasses: 10, inputShape: [8, 8, 3], mean: [0, 0, 0], std: [1, 1, 1], depth: 10, widenFactor: 2, baseWidth: 4 }],
    [
      'preact-resnet18',
      { numClasses: 10, inputShape: [16, 16, 3], mean: [0, 0, 0], std: [1, 1, 1], width: 2, blocksPerStage: [1, 1, 1, 1] },
    ],
  ];
  for (const [arch, cfg] of cases) {
    it(`${arch}`, () => {
      const m = createClassifier(arch as never, cfg, 7);
      const w = tf.randomNormal([2, cfg.numClasses], 0, 1, 'float32', 3);
      const x = tf.randomUniform([2, ...cfg.inputShape], 0, 1, 'float32', 4) as tf.Tensor4D;
      const r = tf.tidy(() => checkDirectional((xx) => tf.sum(tf.mul(m.logits(xx), w)), x, 1e-3));
      expectClose(r);
      m.dispose();
      tf.dispose([w, x]);
    });
  }

  it('unet (downsample, attention, upsample, group norm)', () => {
    const u = new UNet({ ...UNET_PRESETS.tiny, sampleSize: 8, blockOutChannels: [8, 16, 16], attentionResolutions: [4] }, 2);
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 5) as tf.Tensor4D;
    const t = tf.tensor1d([5, 600]);
    const w = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 6);
    const r = tf.tidy(() => checkDirectional((xx) => tf.sum(tf.mul(u.predictEps(xx, t), w)), x, 1e-2));
    expectClose(r);
    u.dispose();
    tf.dispose([x, t, w]);
  });
});
