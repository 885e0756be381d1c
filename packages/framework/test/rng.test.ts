import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  FreshNoiseSource,
  KeyedNoiseSource,
  SeededRng,
  eotRows,
  philox4x32,
} from '../src';

describe('counter-based RNG (Philox4x32-10)', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect([...out].map((v) => v.toString(16).padStart(8, '0'))).to.deep.equal(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect([...out].map((v) => v.toString(16).padStart(8, '0'))).to.deep.equal(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect([...out].map((v) => v.toString(16).padStart(8, '0'))).to.deep.equal(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('SeededRng is reproducible and restores from its saved state', () => {
    const a = new SeededRng(42);
    const first = Array.from({ length: 7 }, () => a.nextUint32());
    const saved = a.state();
    const next = Array.from({ length: 9 }, () => a.nextUint32());
    const b = new SeededRng(42);
    expect(Array.from({ length: 7 }, () => b.nextUint32())).to.deep.equal(first);
    const c = SeededRng.fromState(saved);
    expect(Array.from({ length: 9 }, () => c.nextUint32())).to.deep.equal(next);
    expect(new SeededRng(43).nextUint32()).to.not.equal(first[0]);
  });

  it('gives standard normal statistics', () => {
    const src = new KeyedNoiseSource(7, eotRows([0]));
    const t = src.normal({ kind: 'forward' }, [1, 100, 100, 3]);
    const d = t.dataSync();
    t.dispose();
    let m = 0;
    for (const v of d) m += v;
    m /= d.length;
    let v2 = 0;
    for (const v of d) v2 += (v - m) ** 2;
    v2 /= d.length;
    expect(Math.abs(m)).to.be.below(0.02);
    expect(Math.abs(v2 - 1)).to.be.below(0.03);
  });
});

describe('NoiseSources', () => {
  const shape = (b: number): number[] => [b, 4, 4, 3];

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
