import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, KeyedNoiseSource, eotRows } from '@dbp-bench/framework';
import { DpDdpm } from '../../src';
import { defenseFixture, maxAbsDiff, rejects, type DefenseFixture } from './fixture';

describe('defense dp-ddpm', function () {
  this.timeout(120000);
  let f: DefenseFixture;
  before(() => (f = defenseFixture()));
  after(() => f.cleanup());

  it('is created through the registry with the ADDT defaults: t* = 0.1, N = 1000 -> timesteps 100, 99, ..., 0', async () => {
    const d = await f.scope.create<DpDdpm>('defense', 'dp-ddpm', { weights: 'unet.safetensors' });
    expect(d).to.be.instanceOf(DpDdpm);
    expect(d.options).to.deep.equal({
      strength: 0.1,
      numInferenceSteps: 1000,
      varianceType: 'fixed_large',
      clipSample: true,
      precision: 'float64',
      gradient: 'exact',
      surrogate: { numInferenceSteps: 100 },
      checkpoint: true,
    });
    expect(Array.from(d.timesteps)).to.deep.equal(Array.from({ length: 101 }, (_, i) => 100 - i));
    expect(d.capabilities).to.deep.include({ stochastic: true, streams: ['forward', 'reverse'], networkCalls: 101 });
    d.dispose();
    // in code, the same defaults come from the same schema
    expect(new DpDdpm(f.unet).options).to.deep.equal(d.options);
  });

  it('rejects a bad option, naming the plugin and the field (registry and constructor alike)', async () => {
    await rejects(
      f.scope.create('defense', 'dp-ddpm', { weights: 'unet.safetensors', varianceType: 'learned' }),
      /options of defense 'dp-ddpm'[\s\S]*\$\.varianceType: must be one of "fixed_large", "fixed_small"/,
    );
    await rejects(f.scope.create('defense', 'dp-ddpm', {}), /options of defense 'dp-ddpm'[\s\S]*\$\.weights: is required/);
    expect(() => new DpDdpm(f.unet, { numInferenceSteps: 0 })).to.throw(
      ConfigValidationError,
      /options of defense 'dp-ddpm'[\s\S]*\$\.numInferenceSteps: must be >= 1/,
    );
  });

  it('purifies with the network loaded from weights exactly as with the saved network; replayed noise replays the output', async () => {
    const d = await f.scope.create<DpDdpm>('defense', 'dp-ddpm', { weights: 'unet.safetensors', numInferenceSteps: 50 });
    expect(Array.from(d.timesteps)).to.deep.equal([100, 80, 60, 40, 20, 0]);
    const x = f.images();
    const before = tf.memory().numTensors;
    const a = d.purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    const b = new DpDdpm(f.unet, { numInferenceSteps: 50 }).purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    const c = d.purify(x, new KeyedNoiseSource(4, eotRows([0, 1])));
    expect(maxAbsDiff(a, b)).to.be.below(1e-5);
    expect(maxAbsDiff(a, c)).to.be.above(1e-3); // other noise, other output
    expect(tf.tidy(() => [tf.min(a).dataSync()[0], tf.max(a).dataSync()[0]])).to.satisfy(([lo, hi]: number[]) => lo >= 0 && hi <= 1);
    tf.dispose([a, b, c]);
    expect(tf.memory().numTensors).to.equal(before);
    d.dispose();
    x.dispose();
  });
});
