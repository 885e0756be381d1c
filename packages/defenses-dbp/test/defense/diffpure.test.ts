import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, KeyedNoiseSource, eotRows } from '@dbp-bench/framework';
import { DiffPure } from '../../src';
import { defenseFixture, maxAbsDiff, rejects, type DefenseFixture } from './fixture';

describe('defense diffpure', function () {
  this.timeout(120000);
  let f: DefenseFixture;
  before(() => (f = defenseFixture()));
  after(() => f.cleanup());

  it('is created through the registry with the defaults: variant addt, 101 predictor steps from t = 0.101, no corrector', async () => {
    const d = await f.scope.create<DiffPure>('defense', 'diffpure', { weights: 'unet.safetensors' });
    expect(d).to.be.instanceOf(DiffPure);
    expect(d.options).to.deep.equal({
      variant: 'addt',
      strength: 0.1,
      numInferenceSteps: 1000,
      dt: 0.001,
      corrector: false,
      snr: 0.16,
      clampOutput: true,
      gradient: 'exact',
      surrogate: { numInferenceSteps: 100 },
      checkpoint: true,
    });
    expect(d.steps.length).to.equal(101);
    expect(d.steps[0].t).to.be.closeTo(0.101, 1e-9);
    expect(d.steps[100].t).to.be.closeTo(0.001, 1e-9);
    expect(d.capabilities).to.deep.include({ stochastic: true, streams: ['forward', 'path'], networkCalls: 101 });
    d.dispose();
    expect(new DiffPure(f.unet).options).to.deep.equal(d.options);
  });

  it('rejects a bad option, naming the plugin and the field; the corrector outside variant addt is a config error', async () => {
    await rejects(
      f.scope.create('defense', 'diffpure', { weights: 'unet.safetensors', snr: 0 }),
      /options of defense 'diffpure'[\s\S]*\$\.snr: must be > 0/,
    );
    const e = await rejects(
      f.scope.create('defense', 'diffpure', { weights: 'unet.safetensors', variant: 'diffpure-original', corrector: true }),
      /options of defense 'diffpure'[\s\S]*corrector/,
    );
    expect(e).to.be.instanceOf(ConfigValidationError);
    expect(() => new DiffPure(f.unet, { variant: 'euler' as never })).to.throw(
      ConfigValidationError,
      /\$\.variant: must be one of "addt", "diffpure-original"/,
    );
  });

  it('the corrector doubles the network calls and draws the corrector stream; weights load to the same network', async () => {
    const d = await f.scope.create<DiffPure>('defense', 'diffpure', {
      weights: 'unet.safetensors',
      numInferenceSteps: 40,
      corrector: true,
    });
    expect(d.capabilities).to.deep.include({ streams: ['forward', 'path', 'corrector'], networkCalls: 2 * d.steps.length });
    const x = f.images();
    const a = d.purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    const b = new DiffPure(f.unet, { numInferenceSteps: 40, corrector: true }).purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    const c = new DiffPure(f.unet, { numInferenceSteps: 40 }).purify(x, new KeyedNoiseSource(3, eotRows([0, 1])));
    expect(maxAbsDiff(a, b)).to.be.below(1e-5);
    expect(maxAbsDiff(a, c)).to.be.above(1e-4);
    tf.dispose([a, b, c, x]);
    d.dispose();
  });
});
