import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { PluginRegistry } from '@dbp-bench/framework';
import { openDataset, plugin, TinyImageNetDataset } from '../../src';
import { expectRejects, tempDir } from '../helpers';

/** A 64×64 JPEG of one colour (quality 100). */
function solidJpeg(rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(64 * 64 * 4);
  for (let i = 0; i < 64 * 64; i++) data.set([...rgb, 255], i * 4);
  return jpeg.encode({ width: 64, height: 64, data }, 100).data;
}

describe('dataset tiny-imagenet: the plugin', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
    // the default dir data/tiny-imagenet holding the official folder, with a val split of two images
    const root = path.join(tmp.dir, 'data', 'tiny-imagenet', 'tiny-imagenet-200');
    fs.mkdirSync(path.join(root, 'val', 'images'), { recursive: true });
    fs.writeFileSync(path.join(root, 'wnids.txt'), 'n02\nn01\n');
    fs.writeFileSync(path.join(root, 'words.txt'), 'n01\tgoldfish\nn02\tsalamander\n');
    fs.writeFileSync(path.join(root, 'val', 'images', 'val_0.JPEG'), solidJpeg([200, 20, 20]));
    fs.writeFileSync(path.join(root, 'val', 'images', 'val_1.JPEG'), solidJpeg([20, 20, 200]));
    fs.writeFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn02\t0\t0\t1\t1\nval_1.JPEG\tn01\t0\t0\t1\t1\n');
  });
  after(() => tmp.cleanup());

  it('is created through the registry with its defaults: split val from data/tiny-imagenet, class = index in the sorted wnids', async () => {
    const registry = new PluginRegistry().use(plugin);
    expect(registry.options('dataset', 'tiny-imagenet', {})).to.deep.equal({ split: 'val', dir: 'data/tiny-imagenet', cacheSize: 4096 });
    const ds = await registry.createScope({ baseDir: tmp.dir }).create<TinyImageNetDataset>('dataset', 'tiny-imagenet', {});
    expect(ds).to.be.instanceOf(TinyImageNetDataset);
    expect(ds.info).to.deep.include({ id: 'tiny-imagenet', split: 'val', size: 2, numClasses: 2 });
    expect(ds.info.classNames).to.deep.equal(['goldfish', 'salamander']);
    expect(Array.from(await ds.labels([0, 1]))).to.deep.equal([1, 0]);
    const b = await ds.get([0]);
    expect(b.images.shape).to.deep.equal([1, 64, 64, 3]);
    expect(b.images.dataSync()[0]).to.be.closeTo(200 / 255, 3 / 255);
    b.images.dispose();
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRejects(
      openDataset('tiny-imagenet', { split: 'test' }),
      /options of dataset 'tiny-imagenet'[\s\S]*\$\.split: must be one of "train", "val"/,
    );
    await expectRejects(
      openDataset('tiny-imagenet', { cacheSize: -1 }),
      /options of dataset 'tiny-imagenet'[\s\S]*\$\.cacheSize: must be >= 0/,
    );
  });
});
