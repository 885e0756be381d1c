import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { PluginRegistry } from '@dbp-bench/framework';
import { ImageFolderDataset, openDataset, plugin } from '../../src';
import { expectRejects, tempDir } from '../helpers';

/** A w×h JPEG of one colour (quality 100). */
function solidJpeg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([...rgb, 255], i * 4);
  return jpeg.encode({ width: w, height: h, data }, 100).data;
}

describe('dataset image-folder: the plugin', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
    // the default dir data/image-folder with its default split subfolder val/
    const root = path.join(tmp.dir, 'data', 'image-folder', 'val');
    for (const [cls, rgb] of [
      ['dog', [10, 200, 10]],
      ['cat', [200, 10, 10]],
    ] as [string, [number, number, number]][]) {
      fs.mkdirSync(path.join(root, cls), { recursive: true });
      fs.writeFileSync(path.join(root, cls, 'a.JPEG'), solidJpeg(40, 30, rgb));
      fs.writeFileSync(path.join(root, cls, 'b.png'), 'not a JPEG: not taken');
    }
  });
  after(() => tmp.cleanup());

  it('is created through the registry with its defaults: dir/val, resize 256 then center crop 224, JPEG files only', async () => {
    const registry = new PluginRegistry().use(plugin);
    expect(registry.options('dataset', 'image-folder', {})).to.deep.equal({
      dir: 'data/image-folder',
      split: 'val',
      resize: 256,
      crop: 224,
      extensions: ['.jpeg', '.jpg'],
      cacheSize: 256,
    });
    const ds = await registry.createScope({ baseDir: tmp.dir }).create<ImageFolderDataset>('dataset', 'image-folder', {});
    expect(ds).to.be.instanceOf(ImageFolderDataset);
    expect(ds.info).to.deep.include({ id: 'image-folder', size: 2, numClasses: 2 });
    expect(ds.info.classNames).to.deep.equal(['cat', 'dog']);
    expect(ds.info.shape).to.deep.equal([224, 224, 3]);
    const b = await ds.get([0, 1]);
    expect(Array.from(b.labels)).to.deep.equal([0, 1]);
    const v = b.images.dataSync();
    expect(v[0]).to.be.closeTo(200 / 255, 4 / 255); // cat: red
    expect(v[224 * 224 * 3 + 1]).to.be.closeTo(200 / 255, 4 / 255); // dog: green
    b.images.dispose();
  });

  it('rejects a bad option, naming the plugin and the field', async () => {
    await expectRejects(
      openDataset('image-folder', { extensions: [] }),
      /options of dataset 'image-folder'[\s\S]*\$\.extensions: must NOT have fewer than 1 items/,
    );
    await expectRejects(openDataset('image-folder', { crop: 1.5 }), /options of dataset 'image-folder'[\s\S]*\$\.crop: must be integer/);
  });
});
