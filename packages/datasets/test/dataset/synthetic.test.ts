import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { PluginRegistry } from '@dbp-bench/framework';
import { openDataset, plugin, SyntheticDataset } from '../../src';
import { expectRejects } from '../helpers';

describe('dataset synthetic: the plugin', () => {
  const registry = new PluginRegistry().use(plugin);

  it('is created through the registry with its defaults: 256 test images 32x32x3 of 10 classes', async () => {
    expect(registry.options('dataset', 'synthetic', {})).to.deep.equal({
      split: 'test',
      size: 256,
      numClasses: 10,
      imageSize: 32,
      channels: 3,
      seed: 0,
      noise: 0.05,
    });
    const ds = await registry.createScope().create<SyntheticDataset>('dataset', 'synthetic', {});
    expect(ds).to.be.instanceOf(SyntheticDataset);
    expect(ds.info).to.deep.include({ id: 'synthetic', split: 'test', size: 256, numClasses: 10 });
    expect(ds.info.shape).to.deep.equal([32, 32, 3]);
    const before = tf.memory().numTensors;
    const b = await ds.get([0, 255]);
    expect(b.images.shape).to.deep.equal([2, 32, 32, 3]);
    b.images.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRejects(
      openDataset('synthetic', { channels: 2 }),
      /options of dataset 'synthetic'[\s\S]*\$\.channels: must be one of 1, 3/,
    );
    await expectRejects(openDataset('synthetic', { numClasses: 1 }), /options of dataset 'synthetic'[\s\S]*\$\.numClasses: must be >= 2/);
  });
});

describe('synthetic dataset', () => {
  it('is deterministic by seed and independent of access order; labels are balanced', async () => {
    const a = await openDataset('synthetic', { size: 30, numClasses: 3, imageSize: 6, seed: 7 });
    const b = await openDataset('synthetic', { size: 30, numClasses: 3, imageSize: 6, seed: 7 });
    const c = await openDataset('synthetic', { size: 30, numClasses: 3, imageSize: 6, seed: 8 });
    const x = await a.get([4, 17]);
    const y = await b.get([17, 4]);
    const z = await c.get([4, 17]);
    try {
      const xv = x.images.dataSync();
      const yv = y.images.dataSync();
      const per = 6 * 6 * 3;
      expect(Array.from(xv.subarray(0, per))).to.deep.equal(Array.from(yv.subarray(per)));
      expect(Array.from(xv.subarray(per))).to.deep.equal(Array.from(yv.subarray(0, per)));
      expect(Array.from(z.images.dataSync())).to.not.deep.equal(Array.from(xv));
      expect(Math.min(...xv)).to.be.at.least(0);
      expect(Math.max(...xv)).to.be.at.most(1);
    } finally {
      for (const t of [x, y, z]) t.images.dispose();
    }
    const labels = await a.labels(Array.from({ length: 30 }, (_, i) => i));
    expect([0, 1, 2].map((k) => labels.filter((l) => l === k).length)).to.deep.equal([10, 10, 10]);
    const train = await openDataset('synthetic', { split: 'train', size: 30, numClasses: 3, imageSize: 6, seed: 7 });
    const t = await train.get([4]);
    const s = await a.get([4]);
    try {
      expect(Array.from(t.images.dataSync())).to.not.deep.equal(Array.from(s.images.dataSync()));
    } finally {
      t.images.dispose();
      s.images.dispose();
    }
  });

  it('classes are separable: nearest class mean on noise-free images beats chance by far', async () => {
    const train = await openDataset('synthetic', { split: 'train', size: 200, numClasses: 4, imageSize: 16, channels: 1, noise: 0 });
    const test = await openDataset('synthetic', { split: 'test', size: 40, numClasses: 4, imageSize: 16, channels: 1, noise: 0 });
    // a power-spectrum-free feature: mean |horizontal diff| and |vertical diff| capture orientation
    const feats = async (d: typeof train, n: number): Promise<{ f: number[][]; l: Int32Array }> => {
      const b = await d.get(Array.from({ length: n }, (_, i) => i));
      const v = b.images.dataSync();
      b.images.dispose();
      const f: number[][] = [];
      for (let i = 0; i < n; i++) {
        let h = 0,
          w = 0,
          d1 = 0,
          d2 = 0;
        for (let yy = 0; yy < 15; yy++)
          for (let xx = 0; xx < 15; xx++) {
            const p = i * 256 + yy * 16 + xx;
            h += Math.abs(v[p + 1] - v[p]);
            w += Math.abs(v[p + 16] - v[p]);
            d1 += Math.abs(v[p + 17] - v[p]);
            d2 += Math.abs(v[p + 1] - v[p + 16]);
          }
        f.push([h, w, d1, d2]);
      }
      return { f, l: b.labels };
    };
    const tr = await feats(train, 200);
    const te = await feats(test, 40);
    const means = [0, 1, 2, 3].map((k) => {
      const rows = tr.f.filter((_, i) => tr.l[i] === k);
      return [0, 1, 2, 3].map((j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);
    });
    let correct = 0;
    te.f.forEach((r, i) => {
      const d = means.map((m) => m.reduce((a, mj, j) => a + (mj - r[j]) ** 2, 0));
      if (d.indexOf(Math.min(...d)) === te.l[i]) correct++;
    });
    expect(correct / 40).to.be.greaterThan(0.7);
  });
});
