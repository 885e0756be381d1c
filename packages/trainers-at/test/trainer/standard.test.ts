import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { canTrainConvs, defaults, expectRefused, trainOneStep } from './fixture';

describe('trainer standard', function () {
  this.timeout(120000);

  it('has the SGD recipe defaults (lr 0.1, momentum 0.9, wd 5e-4, step schedule, batch 128) and no PGD evaluation', () => {
    const o = defaults('standard');
    expect(o.optimizer).to.deep.include({ type: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    expect(o.schedule).to.deep.include({ type: 'step', milestones: [0.5, 0.75] });
    expect(o.batchSize).to.equal(128);
    expect(o.eval).to.deep.include({ enabled: true, pgd: false, n: 512 });
    expect(o.model).to.deep.equal({ arch: 'small-cnn', config: {}, init: null });
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRefused('standard', { model: { arch: 'vgg16' } }, /\$\.model\.arch: must be one of/);
    await expectRefused('standard', { beta: -1 }, /\$\.beta: must be >= 0/);
    expect(defaults('standard').attack.steps).to.equal(10);
  });

  it('trains one step on clean images and writes loadable weights', async function () {
    if (!canTrainConvs()) this.skip();
    const before = tf.memory().numTensors;
    await trainOneStep('standard', { attack: { steps: 0 } });
    expect(tf.memory().numTensors).to.equal(before);
  });
});
