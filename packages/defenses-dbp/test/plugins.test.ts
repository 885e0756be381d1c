// Plugin registration and creation through a run scope (weights from a safetensors file), and the image grid.
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { ConfigValidationError, eotRows, KeyedNoiseSource, MissingFileError, PluginRegistry, type Defense } from '@dbp-bench/framework';
import { saveModel, UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DiffPure, DpDdim, DpDdpm, IdentityDefense, imageGridPng, plugin, writeImageGrid } from '../src';

describe('defense plugins', function () {
  this.timeout(120000);
  let dir: string;
  let registry: PluginRegistry;
  let unet: UNet;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-defenses-'));
    unet = new UNet(UNET_PRESETS.tiny, 5);
    saveModel(path.join(dir, 'unet.safetensors'), unet);
    registry = new PluginRegistry().use(plugin);
  });
  after(() => {
    unet.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('registers identity, dp-ddpm, dp-ddim, diffpure as defenses with closed schemas', () => {
    expect(registry.ids('defense')).to.deep.equal(['diffpure', 'dp-ddim', 'dp-ddpm', 'identity']);
    for (const p of registry.list('defense')) {
      expect(p.schema.type).to.equal('object');
      expect(p.schema.additionalProperties).to.equal(false);
      const props = (p.schema.properties ?? {}) as Record<string, { default?: unknown }>;
      const required = (p.schema.required ?? []) as string[];
      for (const [k, v] of Object.entries(props)) if (!required.includes(k)) expect(v.default, `${p.id}.${k}`).to.not.equal(undefined);
    }
  });

  it('fills the ADDT defaults and loads the weights relative to the base directory', async () => {
    const scope = registry.createScope({ baseDir: dir });
    const opts = registry.options('defense', 'dp-ddpm', { weights: 'unet.safetensors' });
    expect(opts).to.deep.equal({
      weights: 'unet.safetensors',
      strength: 0.1,
      numInferenceSteps: 1000,
      varianceType: 'fixed_large',
      clipSample: true,
      precision: 'float64',
      gradient: 'exact',
      checkpoint: true,
      surrogate: { numInferenceSteps: 100 },
    });
    expect(registry.options('defense', 'dp-ddim', { weights: 'w' })).to.deep.include({
      numInferenceSteps: 100,
      eta: 0,
      setAlphaToOne: true,
    });
    expect(registry.options('defense', 'diffpure', { weights: 'w' })).to.deep.include({
      variant: 'addt',
      numInferenceSteps: 1000,
      corrector: false,
      snr: 0.16,
      dt: 0.001,
      clampOutput: true,
    });

    const ddpm = await scope.create<DpDdpm>('defense', 'dp-ddpm', { weights: 'unet.safetensors', numInferenceSteps: 50 });
    expect(ddpm).to.be.instanceOf(DpDdpm);
    expect(ddpm.numSteps).to.equal(6);
    const ddim = await scope.create<DpDdim>('defense', 'dp-ddim', { weights: 'unet.safetensors', numInferenceSteps: 50 });
    const vp = await scope.create<DiffPure>('defense', 'diffpure', {
      weights: 'unet.safetensors',
      variant: 'diffpure-original',
      strength: 0.002,
    });
    const id = await scope.create<Defense>('defense', 'identity', {});
    expect(id).to.be.instanceOf(IdentityDefense);

    // The loaded network equals the saved one: same purification as the in-memory UNet.
    const x = tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const noise = new KeyedNoiseSource(3, eotRows([0, 1]));
    const a = ddpm.purify(x, noise);
    const b = new DpDdpm(unet, { numInferenceSteps: 50 }).purify(x, noise);
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).to.be.below(1e-5);
    const before = tf.memory().numTensors;
    for (const d of [ddpm, ddim, vp, id]) d.dispose?.();
    expect(tf.memory().numTensors).to.be.below(before);
    tf.dispose([x, a, b]);
  });

  it('typed errors: missing weights, unknown option, strength too large for N', async () => {
    const scope = registry.createScope({ baseDir: dir });
    await expectReject(
      scope.create('defense', 'dp-ddpm', { weights: 'nope.safetensors' }),
      MissingFileError,
      /nope\.safetensors.*'weights' of defense 'dp-ddpm'/s,
    );
    await expectReject(scope.create('defense', 'dp-ddpm', {}), ConfigValidationError, /\$\.weights: is required/);
    await expectReject(
      scope.create('defense', 'dp-ddim', { weights: 'unet.safetensors', etaa: 1 }),
      ConfigValidationError,
      /\$\.etaa: is not a known field/,
    );
    await expectReject(
      scope.create('defense', 'diffpure', { weights: 'unet.safetensors', variant: 'euler' }),
      ConfigValidationError,
      /variant: must be one of/,
    );
    await expectReject(
      scope.create('defense', 'dp-ddim', { weights: 'unet.safetensors', numInferenceSteps: 2, strength: 0.9 }),
      ConfigValidationError,
      /options of defense 'dp-ddim'.*< 0/s,
    );
  });

  it('weights trained only on t < trainTimesteps (file metadata): a chain that calls the UNet at or above it is refused, naming the file', async () => {
    const scope = registry.createScope({ baseDir: dir });
    saveModel(path.join(dir, 'unet-t101.safetensors'), unet, { trainTimesteps: 101 });
    saveModel(path.join(dir, 'unet-t100.safetensors'), unet, { trainTimesteps: 100 });
    const before = tf.memory().numTensors;
    // strength 0.1: DP_DDPM / DP_DDIM call the network at t = 100 .. 0, DiffPure (999 t) up to 100.9
    for (const id of ['dp-ddpm', 'dp-ddim', 'diffpure']) {
      const ok = (await scope.create('defense', id, { weights: 'unet-t101.safetensors' })) as Defense;
      expect((ok as unknown as DpDdpm | DpDdim | DiffPure).highestNetworkTime, id).to.be.within(100, 101);
      ok.dispose?.();
      await expectReject(
        scope.create('defense', id, { weights: 'unet-t100.safetensors' }),
        ConfigValidationError,
        new RegExp(`options of defense '${id}'.*at time 100(\\.\\d+)? .*unet-t100\\.safetensors was trained only on t < 100`, 's'),
      );
      // a weaker purification stays within the trained levels
      const weak = (await scope.create('defense', id, { weights: 'unet-t100.safetensors', strength: 0.05 })) as Defense;
      weak.dispose?.();
    }
    expect(tf.memory().numTensors, 'the refused defenses free their network').to.equal(before);
  });

  it('image grid: rows x columns of upscaled cells, values rounded to 8 bits', () => {
    const a = tf.fill([3, 4, 4, 3], 0.5) as tf.Tensor4D;
    const b = tf.tidy(() => tf.concat([tf.zeros([3, 4, 4, 2]), tf.ones([3, 4, 4, 1])], 3)) as tf.Tensor4D;
    const buf = imageGridPng([a, b], { padding: 1, scale: 2 });
    const png = PNG.sync.read(buf);
    expect([png.width, png.height]).to.deep.equal([3 * 8 + 4, 2 * 8 + 3]);
    const px = (x: number, y: number): number[] => Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 4));
    expect(px(0, 0)).to.deep.equal([255, 255, 255, 255]); // padding
    expect(px(1, 1)).to.deep.equal([128, 128, 128, 255]); // row 0
    expect(px(1 + 9 * 2, 10)).to.deep.equal([0, 0, 255, 255]); // row 1, column 2
    const file = path.join(dir, 'sub', 'grid.png');
    writeImageGrid(file, [a, b]);
    expect(PNG.sync.read(fs.readFileSync(file)).width).to.equal(3 * 8 + 4 * 2);
    const c = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    expect(() => imageGridPng([a, c])).to.throw(/row 1 has shape/);
    tf.dispose([a, b, c]);
  });
});

async function expectReject(p: Promise<unknown>, type: new (...args: never[]) => Error, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(type);
    expect((e as Error).message).to.match(re);
    return;
  }
  expect.fail(`expected a ${type.name}`);
}
