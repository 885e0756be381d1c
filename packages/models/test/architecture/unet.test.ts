import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, PluginRegistry } from '@dbp-bench/framework';
import { plugin, saveModel, UNet, UNET_PRESETS } from '../../src';

describe('architecture unet', function () {
  this.timeout(60000);
  const registry = new PluginRegistry().use(plugin);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-arch-unet-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has the defaults: preset ddpm-cifar10, no overrides, no weights, seed 0', () => {
    expect(registry.options('architecture', 'unet', {})).to.deep.equal({ preset: 'ddpm-cifar10', config: {}, weights: '', seed: 0 });
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    const err = await registry
      .createScope()
      .create('architecture', 'unet', { preset: 'huge' })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect(err!.message).to.match(/options of architecture 'unet'[\s\S]*\$\.preset: must be one of "tiny"/);
  });

  it('builds a preset with config overrides; from weights it is the saved network', async () => {
    const scope = registry.createScope({ baseDir: dir });
    const u = await scope.create<UNet>('architecture', 'unet', {
      preset: 'tiny',
      config: { blockOutChannels: [8, 16], normGroups: 4 },
      seed: 2,
    });
    expect(u).to.be.instanceOf(UNet);
    expect(u.config).to.deep.equal({ ...UNET_PRESETS.tiny, blockOutChannels: [8, 16], normGroups: 4 });
    saveModel(path.join(dir, 'u.safetensors'), u);
    const v = await scope.create<UNet>('architecture', 'unet', { weights: 'u.safetensors' });
    expect(v.config).to.deep.equal(u.config);
    const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const t = tf.tensor1d([500]);
    const a = u.predictEps(x, t);
    const b = v.predictEps(x, t);
    expect(a.shape).to.deep.equal([1, 16, 16, 3]);
    expect(Array.from(b.dataSync())).to.deep.equal(Array.from(a.dataSync()));
    tf.dispose([x, t, a, b]);
    u.dispose();
    v.dispose();
  });
});
