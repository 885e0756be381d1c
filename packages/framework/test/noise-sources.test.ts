import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { FreshNoiseSource, KeyedNoiseSource, eotRows, noiseStreamKey, philoxNormals } from '../src';

describe('NoiseSources', () => {
  const shape = (b: number): number[] => [b, 4, 4, 3];

  it('a keyed row is the Philox normals of (sample, EoT index, generation) under the stream key', () => {
    const rows = eotRows([5, 9], 2);
    const t = new KeyedNoiseSource(2024, rows, 3).normal({ kind: 'path', step: 12 }, [4, 2, 3, 5]);
    const got = t.dataSync();
    t.dispose();
    const [k0, k1] = noiseStreamKey(2024, { kind: 'path', step: 12 });
    rows.forEach((row, r) => {
      const want = new Float32Array(30);
      philoxNormals(want, row.sample, row.eot, 3, k0, k1);
      expect(Array.from(got.subarray(r * 30, (r + 1) * 30)), `row ${r}`).to.deep.equal(Array.from(want));
    });
  });

  it('keyed noise is per sample: a batch of 8 equals two batches of 4, in any order', () => {
    const samples = [10, 11, 12, 13, 14, 15, 16, 17];
    const src = new KeyedNoiseSource(123, eotRows(samples));
    const all = src.normal({ kind: 'reverse', step: 57 }, shape(8));
    const a = src.withRows(eotRows(samples.slice(0, 4))).normal({ kind: 'reverse', step: 57 }, shape(4));
    const rev = samples.slice(4).reverse();
    const b = src.withRows(eotRows(rev)).normal({ kind: 'reverse', step: 57 }, shape(4));
    const allData = all.arraySync() as number[][][][];
    const aData = a.arraySync() as number[][][][];
    const bData = b.arraySync() as number[][][][];
    for (let i = 0; i < 4; i++) expect(aData[i]).to.deep.equal(allData[i]);
    for (let i = 0; i < 4; i++) expect(bData[i]).to.deep.equal(allData[7 - i]);
    tf.dispose([all, a, b]);
  });

  it('keyed noise differs across streams, steps, samples, EoT replicas and seeds', () => {
    const src = new KeyedNoiseSource(1, eotRows([3], 2));
    const base = src.normal({ kind: 'reverse', step: 5 }, [2, 2, 2, 1]).arraySync() as number[][][][];
    expect(base[0]).to.not.deep.equal(base[1]); // EoT 0 vs 1
    const other = [
      src.normal({ kind: 'reverse', step: 6 }, [2, 2, 2, 1]),
      src.normal({ kind: 'forward' }, [2, 2, 2, 1]),
      new KeyedNoiseSource(2, eotRows([3], 2)).normal({ kind: 'reverse', step: 5 }, [2, 2, 2, 1]),
      src.withRows(eotRows([4], 2)).normal({ kind: 'reverse', step: 5 }, [2, 2, 2, 1]),
    ];
    for (const t of other) expect(t.arraySync()).to.not.deep.equal(base);
    tf.dispose(other);
  });

  it('keyed noise repeats exactly; fresh noise never repeats but is reproducible from the seed', () => {
    const keyed = new KeyedNoiseSource(9, eotRows([0, 1]));
    const k1 = keyed.normal({ kind: 'forward' }, shape(2));
    const k2 = keyed.normal({ kind: 'forward' }, shape(2));
    expect(k1.arraySync()).to.deep.equal(k2.arraySync());
    const fresh = new FreshNoiseSource(9, eotRows([0, 1]));
    const f1 = fresh.normal({ kind: 'forward' }, shape(2));
    const f2 = fresh.normal({ kind: 'forward' }, shape(2));
    expect(f1.arraySync()).to.not.deep.equal(f2.arraySync());
    expect(f1.arraySync()).to.not.deep.equal(k1.arraySync());
    const again = new FreshNoiseSource(9, eotRows([0, 1]));
    const g1 = again.normal({ kind: 'forward' }, shape(2));
    expect(g1.arraySync()).to.deep.equal(f1.arraySync());
    tf.dispose([k1, k2, f1, f2, g1]);
  });

  it('rejects a shape whose batch does not match the bound rows', () => {
    const src = new KeyedNoiseSource(0, eotRows([0, 1, 2]));
    expect(() => src.normal({ kind: 'forward' }, [2, 3])).to.throw(/bound to 3 rows/);
  });

  it('does not leak tensors across draws', () => {
    const src = new FreshNoiseSource(0, eotRows([0, 1]));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) src.normal({ kind: 'path', step: i }, shape(2)).dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});

describe('fresh noise is shard-invariant', () => {
  it('the n-th draw of a sample is the same whatever batches ran before it', () => {
    const one = new FreshNoiseSource(11, eotRows([0, 1, 2, 3]));
    one.normal({ kind: 'forward' }, [4, 3]).dispose();
    const second = one.normal({ kind: 'forward' }, [4, 3]).arraySync() as number[][];
    // Another process sees samples 2 and 3 only, in their own batch.
    const shard = new FreshNoiseSource(11, eotRows([2, 3]));
    shard.normal({ kind: 'forward' }, [2, 3]).dispose();
    const shardSecond = shard.normal({ kind: 'forward' }, [2, 3]).arraySync() as number[][];
    expect(shardSecond[0]).to.deep.equal(second[2]);
    expect(shardSecond[1]).to.deep.equal(second[3]);
  });
});
