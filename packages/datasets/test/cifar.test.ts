import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DataFormatError, DbpError, MissingFileError } from '@dbp-bench/framework';
import {
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  CIFAR10_CLASSES,
  CifarDataset,
  clearFileCache,
  openDataset,
  readCifarFile,
} from '../src';
import { requireShared, tempDir } from './helpers';

/** n CIFAR-10 records with label i % 10 and pixel bytes (i + plane + p) % 256. */
function fakeCifar10(n: number, labelOf = (i: number) => i % 10): Buffer {
  const b = Buffer.alloc(n * 3073);
  for (let i = 0; i < n; i++) {
    b[i * 3073] = labelOf(i);
    for (let p = 0; p < 3072; p++) b[i * 3073 + 1 + p] = (i * 7 + p) % 256;
  }
  return b;
}

describe('cifar10 / cifar100 (binary format)', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());
  afterEach(() => clearFileCache());

  describe('on the real partial files', () => {
    it('CIFAR-10 test: 846 records, labels equal the full label list, image 0 is a cat with pixel (0,0) = (158,112,49)', async function () {
      const dir = requireShared(this, 'cifar-10/cifar-10-batches-bin-partial');
      const ds = await openDataset('cifar10', { split: 'test', dir });
      expect(ds.info.size).to.equal(846);
      expect(ds.info.shape).to.deep.equal([32, 32, 3]);
      expect(ds.info.classNames).to.deep.equal(CIFAR10_CLASSES);
      const all = fs.readFileSync(path.join(dir, 'test_batch.labels-all-10000.u8'));
      const labels = await ds.labels(Array.from({ length: 846 }, (_, i) => i));
      for (let i = 0; i < 846; i++) expect(labels[i], `label of record ${i}`).to.equal(all[i]);
      const b = await ds.get([0, 1, 845]);
      try {
        expect(b.images.shape).to.deep.equal([3, 32, 32, 3]);
        expect(b.images.dtype).to.equal('float32');
        expect(Array.from(b.labels)).to.deep.equal([3, all[1], all[845]]);
        expect(ds.info.classNames[b.labels[0]]).to.equal('cat');
        const px = Array.from(b.images.slice([0, 0, 0, 0], [1, 1, 1, 3]).dataSync(), (v) => Math.round(v * 255));
        expect(px).to.deep.equal([158, 112, 49]);
        const v = b.images.dataSync();
        expect(Math.min(...v)).to.be.at.least(0);
        expect(Math.max(...v)).to.be.at.most(1);
      } finally {
        b.images.dispose();
      }
    });

    it('accepts the parent directory holding the official folder name cifar-10-batches-bin', async function () {
      const src = requireShared(this, 'cifar-10/cifar-10-batches-bin-partial/test_batch.bin');
      fs.mkdirSync(path.join(tmp.dir, 'parent', 'cifar-10-batches-bin'), { recursive: true });
      fs.copyFileSync(src, path.join(tmp.dir, 'parent', 'cifar-10-batches-bin', 'test_batch.bin'));
      const ds = await openDataset('cifar10', { dir: path.join(tmp.dir, 'parent') });
      expect(ds.info.size).to.equal(846);
      expect(ds.info.source).to.contain(path.join('cifar-10-batches-bin', 'test_batch.bin'));
    });

    it('CIFAR-10 train concatenates data_batch_1..5 (4000 + 4 x 932 = 7728)', async function () {
      const dir = requireShared(this, 'cifar-10/cifar-10-batches-bin-partial/data_batch_5.bin');
      const ds = (await openDataset('cifar10', { split: 'train', dir: path.dirname(dir) })) as CifarDataset;
      expect(ds.info.size).to.equal(7728);
      expect(ds.locate(4000)).to.include({ record: 0 });
      expect(path.basename(ds.locate(4000).file.file)).to.equal('data_batch_2.bin');
      expect(path.basename(ds.locate(7727).file.file)).to.equal('data_batch_5.bin');
      const l = await ds.labels([3999, 4000, 7727]);
      const raw1 = fs.readFileSync(path.join(path.dirname(dir), 'data_batch_1.bin'));
      const raw2 = fs.readFileSync(path.join(path.dirname(dir), 'data_batch_2.bin'));
      const raw5 = fs.readFileSync(path.join(path.dirname(dir), 'data_batch_5.bin'));
      expect(Array.from(l)).to.deep.equal([raw1[3999 * 3073], raw2[0], raw5[931 * 3073]]);
    });

    it('CIFAR-100 test: 148 records with fine and coarse labels', async function () {
      const dir = requireShared(this, 'cifar-100/cifar-100-binary-partial');
      const fine = (await openDataset('cifar100', { dir })) as CifarDataset;
      const coarse = await openDataset('cifar100', { dir, labels: 'coarse' });
      expect(fine.info.size).to.equal(148);
      expect(fine.info.numClasses).to.equal(100);
      expect(coarse.info.numClasses).to.equal(20);
      expect(fine.info.classNames).to.deep.equal(CIFAR100_FINE_CLASSES);
      expect(coarse.info.classNames).to.deep.equal(CIFAR100_COARSE_CLASSES);
      const idx = Array.from({ length: 148 }, (_, i) => i);
      const allFine = fs.readFileSync(path.join(dir, 'test.fine-labels-all-10000.u8'));
      const allCoarse = fs.readFileSync(path.join(dir, 'test.coarse-labels-all-10000.u8'));
      const f = await fine.labels(idx);
      const c = await coarse.labels(idx);
      for (let i = 0; i < 148; i++) {
        expect(f[i]).to.equal(allFine[i]);
        expect(c[i]).to.equal(allCoarse[i]);
      }
      expect(Array.from(f.slice(0, 20))).to.deep.equal([49, 33, 72, 51, 71, 92, 15, 14, 23, 0, 71, 75, 81, 69, 40, 43, 92, 97, 70, 53]);
      expect(Array.from(await fine.coarseLabels([0, 1]))).to.deep.equal(Array.from(c.slice(0, 2)));
      expect(Array.from(await fine.fineLabels([0, 1]))).to.deep.equal([49, 33]);
      const b = await fine.get([0]);
      try {
        expect(b.images.shape).to.deep.equal([1, 32, 32, 3]);
        // record 0 pixel (0,0): bytes 2, 1026, 2050 of the file
        const raw = fs.readFileSync(path.join(dir, 'test.bin'));
        const px = Array.from(b.images.slice([0, 0, 0, 0], [1, 1, 1, 3]).dataSync(), (v) => Math.round(v * 255));
        expect(px).to.deep.equal([raw[2], raw[2 + 1024], raw[2 + 2048]]);
      } finally {
        b.images.dispose();
      }
    });

    it('a truncated copy of test_batch.bin gives an error naming the file, the record size and what was found', async function () {
      const src = requireShared(this, 'cifar-10/cifar-10-batches-bin-partial/test_batch.bin');
      const dir = path.join(tmp.dir, 'trunc10');
      fs.mkdirSync(dir);
      const file = path.join(dir, 'test_batch.bin');
      fs.writeFileSync(file, fs.readFileSync(src).subarray(0, 3073 * 10 + 100));
      let err: unknown;
      try {
        await openDataset('cifar10', { dir });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataFormatError);
      const msg = (err as Error).message;
      expect(msg).to.contain(file);
      expect(msg).to.contain('3073-byte');
      expect(msg).to.contain(`size ${3073 * 10 + 100} bytes`);
      expect(msg).to.contain('10 whole records and 100 bytes left over');
    });

    it('a corrupted label byte (CIFAR-10 and CIFAR-100) gives an error naming the file, record, offset and value', async function () {
      const src10 = requireShared(this, 'cifar-10/cifar-10-batches-bin-partial/test_batch.bin');
      const src100 = requireShared(this, 'cifar-100/cifar-100-binary-partial/test.bin');
      const d10 = path.join(tmp.dir, 'bad10');
      fs.mkdirSync(d10);
      const b10 = Buffer.from(fs.readFileSync(src10));
      b10[5 * 3073] = 200;
      fs.writeFileSync(path.join(d10, 'test_batch.bin'), b10);
      expect(() => readCifarFile(path.join(d10, 'test_batch.bin'), 'cifar10')).to.throw(
        DataFormatError,
        /test_batch\.bin: record 5 \(byte offset 15365\): label byte is 200, expected 0\.\.9 \(3073-byte records\)/,
      );
      const d100 = path.join(tmp.dir, 'bad100');
      fs.mkdirSync(d100);
      const b100 = Buffer.from(fs.readFileSync(src100));
      b100[7 * 3074 + 1] = 100;
      fs.writeFileSync(path.join(d100, 'test.bin'), b100);
      let err: unknown;
      try {
        await openDataset('cifar100', { dir: d100 });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DataFormatError);
      expect((err as Error).message).to.match(
        /test\.bin: record 7 \(byte offset 21519\): fine label byte is 100, expected 0\.\.99 \(3074-byte records\)/,
      );
      // a CIFAR-10 file is not a whole number of CIFAR-100 records
      const mixed = path.join(tmp.dir, 'mixed');
      fs.mkdirSync(mixed);
      fs.copyFileSync(src10, path.join(mixed, 'test.bin'));
      expect(() => readCifarFile(path.join(mixed, 'test.bin'), 'cifar100')).to.throw(DataFormatError, /3074-byte cifar100 records/);
    });
  });

  describe('on generated files', () => {
    it('reads CHW planes into HWC floats and the train split across five files', async () => {
      const dir = path.join(tmp.dir, 'gen', 'cifar-10-batches-bin');
      fs.mkdirSync(dir, { recursive: true });
      const sizes = [3, 1, 2, 1, 4];
      sizes.forEach((n, k) =>
        fs.writeFileSync(
          path.join(dir, `data_batch_${k + 1}.bin`),
          fakeCifar10(n, (i) => (i + k) % 10),
        ),
      );
      fs.writeFileSync(path.join(dir, 'test_batch.bin'), fakeCifar10(5));
      const ds = await openDataset('cifar10', { split: 'train', dir: path.dirname(dir) });
      expect(ds.info.size).to.equal(11);
      expect(Array.from(await ds.labels([0, 3, 4, 10]))).to.deep.equal([0, 1, 2, 7]);
      const b = await ds.get([4, 0]);
      try {
        const v = b.images.arraySync() as number[][][][];
        // batch 1 holds indices 0-2, batch 2 index 3, so index 4 is record 0 of data_batch_3
        for (const [y, x, c] of [
          [0, 0, 0],
          [0, 1, 2],
          [5, 7, 1],
          [31, 31, 2],
        ]) {
          const p = y * 32 + x;
          expect(Math.round(v[0][y][x][c] * 255)).to.equal((0 * 7 + c * 1024 + p) % 256);
        }
        expect(b.indices).to.deep.equal([4, 0]);
      } finally {
        b.images.dispose();
      }
    });

    it('reports a missing directory, a missing train batch and an empty file', async () => {
      let err: unknown;
      try {
        await openDataset('cifar10', { dir: path.join(tmp.dir, 'nowhere') });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFileError);
      expect((err as Error).message)
        .to.contain('test_batch.bin')
        .and.contain('cifar-10-batches-bin')
        .and.contain('dbp-bench data download cifar10');
      const dir = path.join(tmp.dir, 'miss');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'data_batch_1.bin'), fakeCifar10(2));
      fs.writeFileSync(path.join(dir, 'data_batch_2.bin'), fakeCifar10(2));
      err = undefined;
      try {
        await openDataset('cifar10', { dir, split: 'train' });
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(MissingFileError);
      expect((err as Error).message).to.contain(path.join(dir, 'data_batch_3.bin'));
      fs.writeFileSync(path.join(dir, 'test_batch.bin'), Buffer.alloc(0));
      expect(() => readCifarFile(path.join(dir, 'test_batch.bin'), 'cifar10')).to.throw(DataFormatError, /empty/);
    });

    it('rejects out-of-range indices and does not leak tensors across repeated get()', async () => {
      const dir = path.join(tmp.dir, 'leak');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'test_batch.bin'), fakeCifar10(6));
      const ds = await openDataset('cifar10', { dir });
      let err: unknown;
      try {
        await ds.labels([1.5]);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DbpError);
      err = undefined;
      try {
        await ds.get([0, 6]);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(DbpError);
      expect((err as Error).message).to.match(/index 6 \(position 1 of the request\) is out of range; expected an integer in \[0, 6\)/);
      const before = tf.memory().numTensors;
      for (let k = 0; k < 5; k++) {
        const b = await ds.get([k, k + 1]);
        b.images.dispose();
      }
      expect(tf.memory().numTensors).to.equal(before);
    });
  });
});
