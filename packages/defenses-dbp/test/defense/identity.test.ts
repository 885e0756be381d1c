import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, KeyedNoiseSource, ShapeMismatchError, eotRows } from '@dbp-bench/framework';
import { IdentityDefense } from '../../src';
import { defenseFixture, maxAbsDiff, rejects, type DefenseFixture } from './fixture';

describe('defense identity', () => {
  let f: DefenseFixture;
  before(() => (f = defenseFixture()));
  after(() => f.cleanup());

  it('is created through the registry with no options; it is deterministic with no noise streams', async () => {
    expect(f.registry.options('defense', 'identity', undefined)).to.deep.equal({});
    const d = await f.scope.create<IdentityDefense>('defense', 'identity', {});
    expect(d).to.be.instanceOf(IdentityDefense);
    expect(d.capabilities).to.deep.equal({ stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 });
  });

  it('rejects an unknown option, naming the plugin and the field', async () => {
    const e = await rejects(
      f.scope.create('defense', 'identity', { strength: 0.1 }),
      /options of defense 'identity'[\s\S]*\$\.strength: is not a known field/,
    );
    expect(e).to.be.instanceOf(ConfigValidationError);
  });

  it('purify returns a new tensor equal to x, with gradient 1, and refuses a noise source bound to other rows', () => {
    const d = new IdentityDefense();
    const x = f.images();
    const before = tf.memory().numTensors;
    const y = d.purify(x, new KeyedNoiseSource(0, eotRows([0, 1])));
    expect(y).to.not.equal(x);
    expect(maxAbsDiff(x, y)).to.equal(0);
    const g = tf.grad((xx: tf.Tensor) => tf.sum(d.purify(xx as tf.Tensor4D, new KeyedNoiseSource(0, eotRows([0, 1])))))(x);
    expect(Array.from(g.dataSync()).every((v) => v === 1)).to.equal(true);
    tf.dispose([y, g]);
    expect(tf.memory().numTensors).to.equal(before);
    expect(() => d.purify(x, new KeyedNoiseSource(0, eotRows([0])))).to.throw(ShapeMismatchError, /bound to 1 rows but the batch has 2/);
    x.dispose();
  });
});
