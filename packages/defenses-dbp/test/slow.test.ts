// Real-size gradient through the default 101-step DP_DDPM chain (runs only with RUN_SLOW=1).
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { eotRows, FreshNoiseSource } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DpDdpm } from '../src';

describe('DP_DDPM full-chain gradient @slow', function () {
  this.timeout(3600000);
  before(function () {
    if (process.env.RUN_SLOW !== '1') {
      console.log('    (skipped: set RUN_SLOW=1 to run the 101-step gradient at batch 8)');
      this.skip();
    }
  });

  it('101 steps, batch 8 (1 image x 8 EoT), UNet preset small: exact gradient fits the wasm heap and leaks nothing', () => {
    const unet = new UNet(UNET_PRESETS.small, 0);
    const defense = new DpDdpm(unet); // ADDT defaults: N = 1000, t* = 0.1 -> 101 steps
    expect(defense.numSteps).to.equal(101);
    const x = tf.tidy(() => tf.tile(tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 1), [8, 1, 1, 1])) as tf.Tensor4D;
    const w = tf.randomNormal([8, 32, 32, 3], 0, 1, 'float32', 2);
    const noise = new FreshNoiseSource(0, eotRows([0], 8));
    const before = tf.memory();
    const g = tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(defense.purify(xx as tf.Tensor4D, noise), w)))(x));
    const v = g.dataSync();
    expect(v.every(Number.isFinite)).to.equal(true);
    expect(v.some((e) => e !== 0)).to.equal(true);
    g.dispose();
    const after = tf.memory();
    expect(after.numTensors).to.equal(before.numTensors);
    expect(after.numBytes).to.equal(before.numBytes);
    tf.dispose([x, w]);
    unet.dispose();
  });
});
