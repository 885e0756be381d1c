import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, KeyedNoiseSource, eotRows } from '@dbp-bench/framework';
import { DpDdim } from '../../src';
import { defenseFixture, maxAbsDiff, rejects, type DefenseFixture } from './fixture';

describe('defense dp-ddim', function () {
  this.timeout(120000);
  let f: DefenseFixture;
  before(() => (f = defenseFixture()));
  after(() => f.cleanup());

  it('is created through the registry with the ADDT defaults: t* = 0.1, N = 100 -> timesteps 100, 90, ..., 0, eta 0', async () => {
    const d = await f.scope.create<DpDdim>('defense', 'dp-ddim', { weights: 'unet.safetensors' });
    expect(d).to.be.instanceOf(DpDdim);
    expect(d.options).to.deep.equal({
      strength: 0.1,
      numInferenceSteps: 100,
      eta: 0,
      clipSample: true,
      setAlphaToOne: true,
      precision: 'float64',
      gradient: 'exact',
      surrogate: { numInferenceSteps: 20 },
      checkpoint: true,
    });
    expect(Array.from(d.timesteps)).to.deep.equal([100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0]);
    // eta = 0: the reverse process draws no noise
    expect(d.capabilities).to.deep.include({ stochastic: true, streams: ['forward'], networkCalls: 11 });
    d.dispose();
    expect(new DpDdim(f.unet).options).to.deep.equal(d.options);
  });

  it('rejects a bad option, naming the plugin and the field (registry and constructor alike)', async () => {
    await rejects(
      f.scope.create('defense', 'dp-ddim', { weights: 'unet.safetensors', eta: -1 }),
      /options of defense 'dp-ddim'[\s\S]*\$\.eta: must be >= 0/,
    );
    // strength too large for N: a config error, not a crash
    const e = await rejects(
      f.scope.create('defense', 'dp-ddim', { weights: 'unet.safetensors', numInferenceSteps: 2, strength: 0.9 }),
      /options of defense 'dp-ddim'/,
    );
    expect(e).to.be.instanceOf(ConfigValidationError);
    expect(() => new DpDdim(f.unet, { setAlphaToOne: 1 as never })).to.throw(ConfigValidationError, /\$\.setAlphaToOne: must be boolean/);
  });

  it('with eta = 0 the output depends on the forward noise only; eta > 0 adds reverse noise', async () => {
    const d = await f.scope.create<DpDdim>('defense', 'dp-ddim', { weights: 'unet.safetensors', numInferenceSteps: 50 });
    const x = f.images();
    // same forward noise (seed 3), the reverse stream is never drawn: identical outputs from two sources
    const a = d.purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    const b = new DpDdim(f.unet, { numInferenceSteps: 50 }).purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    expect(maxAbsDiff(a, b)).to.be.below(1e-5);
    const noisy = new DpDdim(f.unet, { numInferenceSteps: 50, eta: 1 });
    expect(noisy.capabilities.streams).to.deep.equal(['forward', 'reverse']);
    const c = noisy.purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    expect(maxAbsDiff(a, c)).to.be.above(1e-3);
    tf.dispose([a, b, c, x]);
    d.dispose();
  });
});
