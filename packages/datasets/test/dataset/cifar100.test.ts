import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PluginRegistry } from '@dbp-bench/framework';
import { CifarDataset, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, clearFileCache, openDataset, plugin } from '../../src';
import { expectRejects, tempDir } from '../helpers';

describe('dataset cifar100: the plugin', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
    // three test records: (coarse, fine) = (1, 40), (19, 99), (0, 0)
    const dir = path.join(tmp.dir, 'data', 'cifar100', 'cifar-100-binary');
    fs.mkdirSync(dir, { recursive: true });
    const b = Buffer.alloc(3 * 3074);
    [
      [1, 40],
      [19, 99],
      [0, 0],
    ].forEach(([c, f], i) => {
      b[i * 3074] = c;
      b[i * 3074 + 1] = f;
    });
    fs.writeFileSync(path.join(dir, 'test.bin'), b);
  });
  after(() => tmp.cleanup());
  afterEach(() => clearFileCache());

  it('is created through the registry with its defaults (split test, data/cifar100, fine labels); coarse labels on request', async () => {
    const registry = new PluginRegistry().use(plugin);
    expect(registry.options('dataset', 'cifar100', {})).to.deep.equal({ split: 'test', dir: 'data/cifar100', labels: 'fine' });
    const scope = registry.createScope({ baseDir: tmp.dir });
    const fine = await scope.create<CifarDataset>('dataset', 'cifar100', {});
    expect(fine).to.be.instanceOf(CifarDataset);
    expect(fine.info).to.deep.include({ id: 'cifar100', size: 3, numClasses: 100 });
    expect(fine.info.classNames).to.deep.equal(CIFAR100_FINE_CLASSES);
    expect(Array.from(await fine.labels([0, 1, 2]))).to.deep.equal([40, 99, 0]);
    const coarse = await scope.create<CifarDataset>('dataset', 'cifar100', { labels: 'coarse' });
    expect(coarse.info).to.deep.include({ numClasses: 20 });
    expect(coarse.info.classNames).to.deep.equal(CIFAR100_COARSE_CLASSES);
    expect(Array.from(await coarse.labels([0, 1, 2]))).to.deep.equal([1, 19, 0]);
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRejects(
      openDataset('cifar100', { labels: 'superclass' }),
      /options of dataset 'cifar100'[\s\S]*\$\.labels: must be one of "fine", "coarse"/,
    );
  });
});
