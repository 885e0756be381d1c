import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as jpeg from 'jpeg-js';
import { DataFormatError, MissingFileError } from '@dbp-bench/framework';
import {
  centerCrop,
  decodeJpegRgb,
  ImageFolderDataset,
  openDataset,
  readValAnnotations,
  resizeBilinear,
  resizeShorterSize,
  TinyImageNetDataset,
} from '../src';
import { requireShared, tempDir } from './helpers';

/** Number of colour components in a baseline/progressive JPEG's SOF header. */
function jpegComponents(buf: Buffer): number {
  let i = 2;
  while (i < buf.length) {
    const m = buf[i + 1];
    if (m === 0xc0 || m === 0xc1 || m === 0xc2) return buf[i + 9];
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return -1;
}

/** A w×h JPEG filled with one colour (quality 100). */
function solidJpeg(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) data.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
  return jpeg.encode({ width: w, height: h, data }, 100).data;
}

describe('tiny-imagenet', () => {
  it('val (real data): 10000 images of 200 classes, 50 each; class = index in the sorted wnid list', async function () {
    const root = requireShared(this, 'tiny-imagenet-200/val/val_annotations.txt');
    const dir = path.resolve(root, '../../..');
    // the parent of tiny-imagenet-200 is accepted too
    const ds = (await openDataset('tiny-imagenet', { dir })) as TinyImageNetDataset;
    expect(ds.info.size).to.equal(10000);
    expect(ds.info.numClasses).to.equal(200);
    expect(ds.info.shape).to.deep.equal([64, 64, 3]);
    const unsorted = fs.readFileSync(path.join(ds.root, 'wnids.txt'), 'utf8').split(/\r?\n/).filter(Boolean);
    expect(ds.wnids).to.deep.equal(unsorted.slice().sort());
    expect(ds.wnids).to.not.deep.equal(unsorted);
    const labels = await ds.labels(Array.from({ length: 10000 }, (_, i) => i));
    const counts = new Array(200).fill(0);
    for (const l of labels) counts[l]++;
    expect(counts.every((c) => c === 50)).to.equal(true);
    // index k is val_k.JPEG; its label is its annotation's wnid
    const ann = new Map(
      fs
        .readFileSync(path.join(ds.root, 'val', 'val_annotations.txt'), 'utf8')
        .split(/\r?\n/)
        .filter(Boolean)
        .map((l) => l.split('\t') as [string, string]),
    );
    for (const k of [0, 1, 2, 10, 9999]) {
      expect(path.basename(ds.files[k])).to.equal(`val_${k}.JPEG`);
      expect(ds.wnids[labels[k]]).to.equal(ann.get(`val_${k}.JPEG`));
    }
    expect(ds.wnids[labels[0]]).to.equal('n03444034');
    expect(readValAnnotations(ds.root).files.length).to.equal(10000);
  });

  it('decodes a few val JPEGs; a greyscale JPEG comes out with 3 equal channels', async function () {
    const root = requireShared(this, 'tiny-imagenet-200');
    const ds = await openDataset('tiny-imagenet', { dir: root });
    const grey = path.join(root, 'val', 'images', 'val_10.JPEG');
    expect(jpegComponents(fs.readFileSync(grey))).to.equal(1);
    expect(jpegComponents(fs.readFileSync(path.join(root, 'val', 'images', 'val_0.JPEG')))).to.equal(3);
    const b = await ds.get([0, 10]);
    try {
      expect(b.images.shape).to.deep.equal([2, 64, 64, 3]);
      const v = b.images.dataSync();
      const per = 64 * 64 * 3;
      let colour = 0;
      for (let p = 0; p < 64 * 64; p++) {
        expect(v[per + p * 3]).to.equal(v[per + p * 3 + 1]);
        expect(v[per + p * 3]).to.equal(v[per + p * 3 + 2]);
        if (v[p * 3] !== v[p * 3 + 1] || v[p * 3] !== v[p * 3 + 2]) colour++;
      }
      expect(colour).to.be.greaterThan(100);
      expect(Math.min(...v)).to.be.at.least(0);
      expect(Math.max(...v)).to.be.at.most(1);
    } finally {
      b.images.dispose();
    }
  });

  it('reads the train layout (generated) and rejects a corrupted JPEG and an unknown wnid', async () => {
    const t = tempDir();
    try {
      const root = path.join(t.dir, 'tiny-imagenet-200');
      const wnids = ['n02', 'n01', 'n03'];
      fs.mkdirSync(root, { recursive: true });
      fs.writeFileSync(path.join(root, 'wnids.txt'), wnids.join('\n') + '\n');
      fs.writeFileSync(path.join(root, 'words.txt'), 'n01\tfish, goldfish\nn02\tsalamander\nn03\tfrog\n');
      wnids.forEach((w, k) => {
        const d = path.join(root, 'train', w, 'images');
        fs.mkdirSync(d, { recursive: true });
        for (const i of [0, 1, 10, 2]) fs.writeFileSync(path.join(d, `${w}_${i}.JPEG`), solidJpeg(64, 64, [40 * k + i, 100, 200]));
      });
      fs.mkdirSync(path.join(root, 'val', 'images'), { recursive: true });
      fs.writeFileSync(path.join(root, 'val', 'images', 'val_0.JPEG'), solidJpeg(64, 64, [1, 2, 3]));
      fs.writeFileSync(path.join(root, 'val', 'images', 'val_1.JPEG'), solidJpeg(64, 64, [1, 2, 3]).subarray(0, 300));
      fs.writeFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_1.JPEG\tn03\t0\t0\t1\t1\nval_0.JPEG\tn01\t0\t0\t1\t1\n');
      const train = (await openDataset('tiny-imagenet', { split: 'train', dir: root })) as TinyImageNetDataset;
      expect(train.info.size).to.equal(12);
      expect(train.info.classNames).to.deep.equal(['fish', 'salamander', 'frog']);
      expect(train.files.slice(0, 4).map((f) => path.basename(f))).to.deep.equal(['n01_0.JPEG', 'n01_1.JPEG', 'n01_2.JPEG', 'n01_10.JPEG']);
      expect(Array.from(await train.labels([0, 4, 11]))).to.deep.equal([0, 1, 2]);
      const b = await train.get([5]);
      try {
        // n02 is class 1, generated with k = 0 (its position in wnids.txt), file _1: red = 1
        const px = Array.from(b.images.slice([0, 0, 0, 0], [1, 1, 1, 3]).dataSync(), (x) => Math.round(x * 255));
        expect(px[0]).to.be.closeTo(1, 3);
        expect(px[1]).to.be.closeTo(100, 3);
        expect(px[2]).to.be.closeTo(200, 3);
      } finally {
        b.images.dispose();
      }
      const val = await openDataset('tiny-imagenet', { split: 'val', dir: root });
      expect(Array.from(await val.labels([0, 1]))).to.deep.equal([0, 2]);
      let err: unknown;
      try {
        await val.get([1]);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataFormatError);
      expect((err as Error).message)
        .to.contain('val_1.JPEG')
        .and.contain('cannot decode as JPEG');
      fs.appendFileSync(path.join(root, 'val', 'val_annotations.txt'), 'val_2.JPEG\tn99\t0\t0\t1\t1\n');
      err = undefined;
      try {
        await openDataset('tiny-imagenet', { split: 'val', dir: root });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataFormatError);
      expect((err as Error).message)
        .to.contain('val_annotations.txt')
        .and.contain('wnid n99 is not in wnids.txt');
      err = undefined;
      try {
        await openDataset('tiny-imagenet', { dir: t.dir + '/nothing' });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFileError);
      expect((err as Error).message)
        .to.contain('wnids.txt')
        .and.contain('tiny-imagenet-200.zip');
    } finally {
      t.cleanup();
    }
  });
});

describe('image-folder and image processing', () => {
  it('resize uses antialiased bilinear (triangle filter) taps; shorter-side sizes follow torchvision', () => {
    // 4x1 -> 2x1: scale 2, support 2. Output 0 taps pixels 0,1,2 with weights 3/7, 3/7, 1/7.
    const src = { width: 4, height: 1, data: Float32Array.from([0, 0, 0, 70, 70, 70, 140, 140, 140, 210, 210, 210]) };
    const out = resizeBilinear(src, 2, 1);
    expect(out.data[0]).to.be.closeTo((3 * 0 + 3 * 70 + 1 * 140) / 7, 1e-4);
    expect(out.data[3]).to.be.closeTo((1 * 70 + 3 * 140 + 3 * 210) / 7, 1e-4);
    // constant images stay constant, upsampling interpolates linearly inside
    const c = resizeBilinear({ width: 3, height: 5, data: new Uint8Array(45).fill(77) }, 7, 2);
    expect(Array.from(c.data).every((v) => Math.abs(v - 77) < 1e-4)).to.equal(true);
    const up = resizeBilinear({ width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 100, 100]) }, 4, 1);
    expect(Array.from(up.data).filter((_, i) => i % 3 === 0)).to.deep.equal([0, 25, 75, 100]);
    expect(resizeShorterSize(500, 375, 256)).to.deep.equal({ width: 341, height: 256 });
    expect(resizeShorterSize(300, 400, 256)).to.deep.equal({ width: 256, height: 341 });
    // center crop offsets use Python rounding (halves to even): (6 - 1) / 2 = 2.5 -> 2
    const img = { width: 6, height: 1, data: Uint8Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]) };
    const cc = centerCrop(img, 1);
    expect(cc.data[0]).to.equal(2);
  });

  it('reads <class>/<image>.JPEG with sorted classes, resize + center crop, split subfolder', async () => {
    const t = tempDir();
    try {
      const root = path.join(t.dir, 'val');
      for (const [cls, size, colour] of [
        ['zebra', [80, 60], [250, 10, 10]],
        ['Ant', [60, 90], [10, 250, 10]],
        ['bee', [64, 64], [10, 10, 250]],
      ] as [string, [number, number], [number, number, number]][]) {
        fs.mkdirSync(path.join(root, cls), { recursive: true });
        fs.writeFileSync(path.join(root, cls, 'img_2.JPEG'), solidJpeg(size[0], size[1], colour));
        fs.writeFileSync(path.join(root, cls, 'img_10.jpg'), solidJpeg(size[0], size[1], colour));
        fs.writeFileSync(path.join(root, cls, 'notes.txt'), 'not an image');
      }
      const ds = (await openDataset('image-folder', { dir: t.dir, resize: 40, crop: 32 })) as ImageFolderDataset;
      expect(ds.info.classNames).to.deep.equal(['Ant', 'bee', 'zebra']);
      expect(ds.info.size).to.equal(6);
      expect(ds.info.shape).to.deep.equal([32, 32, 3]);
      expect(ds.files.map((f) => path.basename(f)).slice(0, 2)).to.deep.equal(['img_2.JPEG', 'img_10.jpg']);
      const b = await ds.get([0, 5]);
      try {
        expect(b.images.shape).to.deep.equal([2, 32, 32, 3]);
        expect(Array.from(b.labels)).to.deep.equal([0, 2]);
        const v = b.images.dataSync();
        expect(v[0]).to.be.closeTo(10 / 255, 4 / 255);
        expect(v[1]).to.be.closeTo(250 / 255, 4 / 255);
        const off = 32 * 32 * 3 + (16 * 32 + 16) * 3;
        expect(v[off]).to.be.closeTo(250 / 255, 4 / 255);
      } finally {
        b.images.dispose();
      }
      // crop 0 needs images of one size
      let err: unknown;
      try {
        const mixed = await openDataset('image-folder', { dir: root, resize: 0, crop: 0 });
        expect(mixed.info.shape).to.deep.equal([90, 60, 3]);
        await mixed.get([5]);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataFormatError);
      expect((err as Error).message)
        .to.contain('zebra')
        .and.contain("set 'crop'");
      expect(() => decodeJpegRgb(Buffer.from('not a jpeg at all'), 'x.JPEG')).to.throw(DataFormatError, /x\.JPEG: cannot decode as JPEG/);
      err = undefined;
      try {
        await openDataset('image-folder', { dir: path.join(t.dir, 'missing') });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFileError);
    } finally {
      t.cleanup();
    }
  });
});
