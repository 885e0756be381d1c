import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PluginRegistry } from '@dbp-bench/framework';
import { CifarDataset, CIFAR10_CLASSES, clearFileCache, openDataset, plugin } from '../../src';
import { expectRejects, tempDir } from '../helpers';

describe('dataset cifar10: the plugin', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
    // data/cifar10 (the default dir) relative to the scope's base directory, with two test records
    const dir = path.join(tmp.dir, 'data', 'cifar10', 'cifar-10-batches-bin');
    fs.mkdirSync(dir, { recursive: true });
    const b = Buffer.alloc(2 * 3073);
    b[0] = 3;
    b[3073] = 9;
    for (let p = 0; p < 3072; p++) b[3073 + 1 + p] = 255;
    fs.writeFileSync(path.join(dir, 'test_batch.bin'), b);
  });
  after(() => tmp.cleanup());
  afterEach(() => clearFileCache());

  it('is created through the registry with its defaults: split test from data/cifar10 under the base directory', async () => {
    const registry = new PluginRegistry().use(plugin);
    expect(registry.options('dataset', 'cifar10', {})).to.deep.equal({ split: 'test', dir: 'data/cifar10' });
    const ds = await registry.createScope({ baseDir: tmp.dir }).create<CifarDataset>('dataset', 'cifar10', {});
    expect(ds).to.be.instanceOf(CifarDataset);
    expect(ds.info).to.deep.include({ id: 'cifar10', split: 'test', size: 2, numClasses: 10 });
    expect(ds.info.classNames).to.deep.equal(CIFAR10_CLASSES);
    expect(Array.from(await ds.labels([0, 1]))).to.deep.equal([3, 9]);
    const b = await ds.get([1]);
    expect(Math.min(...b.images.dataSync())).to.equal(1); // record 1 is all 255
    b.images.dispose();
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRejects(
      openDataset('cifar10', { split: 'val' }),
      /options of dataset 'cifar10'[\s\S]*\$\.split: must be one of "train", "test"/,
    );
    await expectRejects(
      openDataset('cifar10', { labels: 'coarse' }),
      /options of dataset 'cifar10'[\s\S]*\$\.labels: is not a known field/,
    );
  });
});
