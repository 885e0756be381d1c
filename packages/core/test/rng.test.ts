import { expect } from 'chai';
import { SeededRng, noiseStreamKey, philox4x32, philoxNormals, philoxUniforms } from '../src';

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

  it('philoxNormals gives standard normal statistics', () => {
    const [k0, k1] = noiseStreamKey(7, { kind: 'forward' });
    const d = new Float32Array(30000);
    philoxNormals(d, 0, 0, 0, k0, k1);
    let m = 0;
    for (const v of d) m += v;
    m /= d.length;
    let v2 = 0;
    for (const v of d) v2 += (v - m) ** 2;
    v2 /= d.length;
    expect(Math.abs(m)).to.be.below(0.02);
    expect(Math.abs(v2 - 1)).to.be.below(0.03);
  });

  it('philoxUniforms: element j is word j mod 4 of counter block floor(j / 4), scaled to [0, 1)', () => {
    const u = new Float64Array(10);
    philoxUniforms(u, 1, 2, 3, 4, 5);
    const block = new Uint32Array(4);
    for (let j = 0; j < u.length; j++) {
      philox4x32(Math.floor(j / 4), 1, 2, 3, 4, 5, block);
      expect(u[j], `element ${j}`).to.equal(block[j % 4] / 4294967296);
      expect(u[j]).to.be.at.least(0).and.below(1);
    }
  });
});
