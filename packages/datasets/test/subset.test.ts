import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, PluginRegistry, sha256, validateSchema, UnknownPluginError, type Dataset } from '@dbp-bench/framework';
import {
  PLUGINS,
  formatSummary,
  iterateBatches,
  openDataset,
  register,
  selectSubset,
  selectSubsetAsync,
  stratifiedIndices,
  subsetHash,
  subsetRecord,
  summarizeDataset,
  SyntheticDataset,
} from '../src';

describe('subsets, batching and provenance', () => {
  let ds: SyntheticDataset;
  before(async () => {
    ds = (await openDataset('synthetic', { size: 50, imageSize: 8 })) as SyntheticDataset;
  });

  it('first-N with offset, explicit indices, all', () => {
    expect(selectSubset(ds, { kind: 'first', n: 4 })).to.deep.equal([0, 1, 2, 3]);
    expect(selectSubset(ds, { kind: 'first', n: 3, offset: 47 })).to.deep.equal([47, 48, 49]);
    expect(selectSubset(ds, { kind: 'indices', indices: [9, 2, 49] })).to.deep.equal([9, 2, 49]);
    expect(selectSubset(ds, { kind: 'all' })).to.have.length(50);
    expect(() => selectSubset(ds, { kind: 'first', n: 4, offset: 47 })).to.throw(
      ConfigValidationError,
      /first 4 images from offset 47 need indices up to 50, but the dataset has 50/,
    );
    expect(() => selectSubset(ds, { kind: 'first', n: 1024 })).to.throw(ConfigValidationError, /synthetic\/test/);
    let err: ConfigValidationError | undefined;
    try {
      selectSubset(ds, { kind: 'indices', indices: [1, 50, 1, -1] });
    } catch (e) {
      err = e as ConfigValidationError;
    }
    expect(err?.problems).to.deep.equal([
      '$.indices[1]: 50 is out of range; expected an integer in [0, 50)',
      '$.indices[2]: 1 appears more than once',
      '$.indices[3]: -1 is out of range; expected an integer in [0, 50)',
    ]);
  });

  it('seeded random subsets: distinct, in range, reproducible, prefix-stable, seed-dependent', () => {
    const a = selectSubset(ds, { kind: 'random', n: 20, seed: 3 });
    expect(new Set(a).size).to.equal(20);
    expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 50)).to.equal(true);
    expect(selectSubset(ds, { kind: 'random', n: 20, seed: 3 })).to.deep.equal(a);
    expect(selectSubset(ds, { kind: 'random', n: 5, seed: 3 })).to.deep.equal(a.slice(0, 5));
    expect(selectSubset(ds, { kind: 'random', n: 20, seed: 4 })).to.not.deep.equal(a);
    expect(
      selectSubset(ds, { kind: 'random', n: 50, seed: 1 })
        .slice()
        .sort((x, y) => x - y),
    ).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    expect(() => selectSubset(ds, { kind: 'random', n: 51, seed: 1 })).to.throw(
      ConfigValidationError,
      /cannot draw 51 distinct images from 50/,
    );
  });

  describe('stratified subsets', () => {
    /** A dataset with the given labels stored class by class, labels only asynchronously (no labelsSync). */
    const sortedDataset = (counts: number[]): Dataset => {
      const labels = Int32Array.from(counts.flatMap((n, c) => new Array<number>(n).fill(c)));
      return {
        info: {
          id: 'sorted',
          split: 'test',
          size: labels.length,
          shape: [1, 1, 1],
          numClasses: counts.length,
          classNames: counts.map(String),
          source: 'test',
        },
        get: async () => {
          throw new Error('not used');
        },
        labels: async (idx) => Int32Array.from(idx, (i) => labels[i]),
      };
    };
    const perClass = (labels: ArrayLike<number>, idx: readonly number[], k: number) => {
      const c = new Array<number>(k).fill(0);
      for (const i of idx) c[labels[i]]++;
      return c;
    };

    it('equal per class on class-sorted data: every class, no duplicates, deterministic, prefix-stable, seed-dependent', async () => {
      const ds10 = sortedDataset([100, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
      const labels = await ds10.labels(Array.from({ length: 1000 }, (_, i) => i));
      const a = await selectSubsetAsync(ds10, { kind: 'stratified', n: 16, seed: 0 });
      expect(a).to.have.length(16);
      expect(new Set(a).size).to.equal(16);
      expect(a.every((i) => Number.isInteger(i) && i >= 0 && i < 1000)).to.equal(true);
      expect(perClass(labels, a, 10).slice().sort()).to.deep.equal([1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
      // round-robin: the first 10 are one of each class
      expect(new Set(a.slice(0, 10).map((i) => labels[i])).size).to.equal(10);
      expect(await selectSubsetAsync(ds10, { kind: 'stratified', n: 16, seed: 0 })).to.deep.equal(a);
      const b = await selectSubsetAsync(ds10, { kind: 'stratified', n: 500, seed: 0 });
      expect(b.slice(0, 16)).to.deep.equal(a);
      expect(perClass(labels, b, 10)).to.deep.equal(new Array(10).fill(50));
      expect(new Set(b).size).to.equal(500);
      expect(await selectSubsetAsync(ds10, { kind: 'stratified', n: 16, seed: 1 })).to.not.deep.equal(a);
      // all of them: a permutation of the split
      const all = await selectSubsetAsync(ds10, { kind: 'stratified', n: 1000, seed: 2 });
      expect(all.slice().sort((x, y) => x - y)).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i));
    });

    it('a class with too few images gives all it has, the others share the rest (hand-computed counts)', async () => {
      // labels 0,0,0,0,1,1,2 (sorted): round 0 takes one of each class, round 1 one of classes 0 and
      // 1 (class 2 is used up), round 2 class 0 only.
      const small = sortedDataset([4, 2, 1]);
      const labels = await small.labels([0, 1, 2, 3, 4, 5, 6]);
      const counts = async (n: number) => perClass(labels, await selectSubsetAsync(small, { kind: 'stratified', n, seed: 5 }), 3);
      expect(await counts(2)).to.satisfy((c: number[]) => c.every((v) => v <= 1) && c.reduce((x, y) => x + y) === 2);
      expect(await counts(3)).to.deep.equal([1, 1, 1]);
      expect(await counts(5)).to.deep.equal([2, 2, 1]);
      expect(await counts(6)).to.deep.equal([3, 2, 1]);
      expect(await counts(7)).to.deep.equal([4, 2, 1]);
      const unequal = sortedDataset([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
      const ul = await unequal.labels(Array.from({ length: 10000 }, (_, i) => i));
      expect(await selectSubsetAsync(unequal, { kind: 'stratified', n: 9000, seed: 0 })).to.deep.equal(stratifiedIndices(ul, 9000, 0));
      // the MNIST test-set class sizes: 9000 = all 892 of class 5 + 8108 shared by the other nine
      // (900 or 901 each: 8108 = 9 * 900 + 8)
      const c9000 = perClass(ul, stratifiedIndices(ul, 9000, 0), 10);
      expect(c9000[5]).to.equal(892);
      expect(c9000.filter((v) => v === 901)).to.have.length(8);
      const others = c9000.filter((_, c) => c !== 5);
      expect(others.reduce((x, y) => x + y)).to.equal(9000 - 892);
      expect(Math.max(...others) - Math.min(...others)).to.be.at.most(1);
    });

    it('selectSubset uses labelsSync (built-in datasets) or given labels; without either it says to use selectSubsetAsync', async () => {
      const sorted = sortedDataset([30, 20]);
      const labels = await sorted.labels(Array.from({ length: 50 }, (_, i) => i));
      expect(() => selectSubset(sorted, { kind: 'stratified', n: 4, seed: 0 })).to.throw(ConfigValidationError, /selectSubsetAsync/);
      expect(selectSubset(sorted, { kind: 'stratified', n: 4, seed: 0 }, labels)).to.deep.equal(
        await selectSubsetAsync(sorted, { kind: 'stratified', n: 4, seed: 0 }),
      );
      expect(() => selectSubset(sorted, { kind: 'stratified', n: 51, seed: 0 }, labels)).to.throw(
        ConfigValidationError,
        /cannot draw 51 distinct images from 50/,
      );
      // a built-in dataset: the synthetic one holds its labels in memory
      const viaSync = selectSubset(ds, { kind: 'stratified', n: 20, seed: 3 });
      const dsLabels = await ds.labels(Array.from({ length: 50 }, (_, i) => i));
      expect(viaSync).to.deep.equal(stratifiedIndices(dsLabels, 20, 3));
      expect(perClass(dsLabels, viaSync, 10)).to.deep.equal(new Array(10).fill(2));
    });
  });

  it('subsetHash is sha256 of the comma-joined indices (16 hex digits) and is order-sensitive', () => {
    expect(subsetHash([0, 1, 2])).to.equal(sha256('0,1,2').slice(0, 16));
    expect(subsetHash([2, 1, 0])).to.not.equal(subsetHash([0, 1, 2]));
    const rec = subsetRecord(ds, { kind: 'first', n: 3 });
    expect(rec).to.deep.include({ dataset: 'synthetic', split: 'test', count: 3, hash: subsetHash([0, 1, 2]) });
    expect(rec.indices).to.deep.equal([0, 1, 2]);
  });

  it('iterateBatches covers the indices in order with a short last batch and leaks no tensors', async () => {
    const idx = selectSubset(ds, { kind: 'random', n: 11, seed: 0 });
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    const sizes: number[] = [];
    for await (const b of iterateBatches(ds, idx, 4)) {
      seen.push(...b.indices);
      sizes.push(b.images.shape[0]);
      expect(Array.from(b.labels)).to.deep.equal(Array.from(await ds.labels(b.indices)));
      b.images.dispose();
    }
    expect(seen).to.deep.equal(idx);
    expect(sizes).to.deep.equal([4, 4, 3]);
    expect(tf.memory().numTensors).to.equal(before);
    let err: unknown;
    try {
      for await (const b of iterateBatches(ds, idx, 0)) b.images.dispose();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
  });
});

describe('plugin registration, schemas, openDataset, summary', () => {
  it('registers the six dataset plugins; every schema is closed and has defaults for all options', () => {
    const r = new PluginRegistry();
    register(r);
    expect(r.ids('dataset')).to.deep.equal(['cifar10', 'cifar100', 'image-folder', 'mnist', 'synthetic', 'tiny-imagenet']);
    for (const def of PLUGINS) {
      expect(def.schema.type, def.id).to.equal('object');
      expect(def.schema.additionalProperties, def.id).to.equal(false);
      for (const [k, p] of Object.entries(def.schema.properties as Record<string, { default?: unknown }>))
        expect(p.default, `${def.id}.${k}`).to.not.equal(undefined);
      // the defaults themselves validate
      validateSchema(def.schema, {}, def.id);
    }
  });

  it('openDataset validates options against the plugin schema and names unknown ids', async () => {
    let err: unknown;
    try {
      await openDataset('cifar10', { split: 'validation', colour: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect((err as ConfigValidationError).problems.join('\n'))
      .to.contain('$.split: must be one of "train", "test"')
      .and.contain('$.colour: is not a known field');
    err = undefined;
    try {
      await openDataset('imagenet-1k');
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UnknownPluginError);
    expect((err as Error).message).to.contain('cifar10, cifar100, image-folder, mnist, synthetic, tiny-imagenet');
  });

  it('summarizeDataset gives count, shape, classes, per-class counts and the first pixel as 0..255 ints', async () => {
    const ds = await openDataset('synthetic', { size: 12, numClasses: 3, imageSize: 5 });
    const before = tf.memory().numTensors;
    const s = await summarizeDataset(ds, 5);
    expect(tf.memory().numTensors).to.equal(before);
    expect(s.size).to.equal(12);
    expect(s.shape).to.deep.equal([5, 5, 3]);
    expect(s.perClass).to.deep.equal([4, 4, 4]);
    const b = await ds.get([0]);
    const v = b.images.dataSync();
    b.images.dispose();
    expect(s.first?.label).to.equal(b.labels[0]);
    expect(s.first?.pixel00).to.deep.equal([0, 1, 2].map((c) => Math.round(v[c] * 255)));
    const text = formatSummary(s);
    expect(text)
      .to.contain('count:     12')
      .and.contain(`pixel (0,0) = (${s.first!.pixel00.join(',')})`)
      .and.contain('class-2  4');
    // the per-class table is aligned: the counts end in one column
    const unequal = formatSummary({
      ...s,
      numClasses: 11,
      perClass: [5, 1200, ...new Array<number>(9).fill(7)],
      classNames: ['a', 'longer-name'],
    });
    const rows = unequal.split('\n').slice(unequal.split('\n').indexOf('per class:') + 1);
    expect(rows).to.have.length(11);
    expect(new Set(rows.map((r) => r.length))).to.have.property('size', 1);
    expect(rows[1]).to.equal('   1  longer-name  1200');
  });
});
