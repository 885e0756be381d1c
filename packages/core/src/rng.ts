/**
 * Counter-based random numbers (Philox4x32-10, Salmon et al. 2011): the pure-JS generator under every
 * random draw of the project. The tensor NoiseSources built on it (keyed, fresh, mixed) are in
 * @dbp-bench/framework (noise-sources.ts); this module needs no tensor library.
 *
 * A keyed draw depends only on (seed, stream, step, sample index, EoT index, draw generation, element
 * offset), never on the batch it is computed in: the noise of sample 5 is the same in a batch of 8, in
 * two batches of 4, or on another shard. That is what makes DW-box replay, resume and sharding exact.
 */
import type { NoiseRow, NoiseStream } from './contracts';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, b: number): [number, number] {
  // 32x32 -> 64-bit product split into hi and lo words, exact in doubles via 16-bit halves.
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const lo = Math.imul(a, b) >>> 0;
  const mid1 = aHi * bLo;
  const mid2 = aLo * bHi;
  const carry = ((aLo * bLo) / 0x10000 + (mid1 & 0xffff) + (mid2 & 0xffff)) / 0x10000;
  const hi = (aHi * bHi + Math.floor(mid1 / 0x10000) + Math.floor(mid2 / 0x10000) + Math.floor(carry)) >>> 0;
  return [hi, lo];
}

/** One Philox4x32-10 block: four 32-bit outputs from a 128-bit counter and a 64-bit key. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  let x0 = c0 >>> 0,
    x1 = c1 >>> 0,
    x2 = c2 >>> 0,
    x3 = c3 >>> 0;
  let key0 = k0 >>> 0,
    key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    const [hi0, lo0] = mulhilo(M0, x0);
    const [hi1, lo1] = mulhilo(M1, x2);
    const n0 = (hi1 ^ x1 ^ key0) >>> 0;
    const n1 = lo1;
    const n2 = (hi0 ^ x3 ^ key1) >>> 0;
    const n3 = lo0;
    x0 = n0;
    x1 = n1;
    x2 = n2;
    x3 = n3;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** 32-bit FNV-1a of a string, used to turn stream names into key words. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

/**
 * Fill `out` with standard normal values for counter words (c1, c2, c3) and key (k0, k1); element j
 * uses counter word c0 = floor(j / 4). Box–Muller on pairs of uniforms in (0, 1).
 */
export function philoxNormals(out: Float32Array, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  const block = new Uint32Array(4);
  const n = out.length;
  for (let j = 0, c0 = 0; j < n; j += 4, c0++) {
    philox4x32(c0, c1, c2, c3, k0, k1, block);
    const u1 = (block[0] + 0.5) * INV_2_32;
    const u2 = (block[1] + 0.5) * INV_2_32;
    const u3 = (block[2] + 0.5) * INV_2_32;
    const u4 = (block[3] + 0.5) * INV_2_32;
    const r1 = Math.sqrt(-2 * Math.log(u1));
    const r2 = Math.sqrt(-2 * Math.log(u3));
    out[j] = r1 * Math.cos(TWO_PI * u2);
    if (j + 1 < n) out[j + 1] = r1 * Math.sin(TWO_PI * u2);
    if (j + 2 < n) out[j + 2] = r2 * Math.cos(TWO_PI * u4);
    if (j + 3 < n) out[j + 3] = r2 * Math.sin(TWO_PI * u4);
  }
}

/** Uniform values in [0, 1) from the same counter scheme (for shuffles, flips, crops). */
export function philoxUniforms(out: Float32Array | Float64Array, c1: number, c2: number, c3: number, k0: number, k1: number): void {
  const block = new Uint32Array(4);
  for (let j = 0, c0 = 0; j < out.length; j += 4, c0++) {
    philox4x32(c0, c1, c2, c3, k0, k1, block);
    for (let q = 0; q < 4 && j + q < out.length; q++) out[j + q] = block[q] * INV_2_32;
  }
}

/**
 * A small seeded generator for everything that is not defense noise (initialisation, shuffles,
 * subsets, augmentations). Its state is one counter, so it can be saved in a checkpoint and restored.
 */
export class SeededRng {
  private counter: number;
  private readonly k0: number;
  private readonly k1: number;
  private readonly buf = new Uint32Array(4);
  private pos = 4;
  constructor(
    readonly seed: number,
    stream = 'default',
    counter = 0,
  ) {
    this.k0 = seed >>> 0;
    this.k1 = (hash32(stream) ^ Math.floor(seed / 4294967296)) >>> 0;
    this.counter = counter;
  }
  /** The state to save in a checkpoint. */
  state(): { seed: number; counter: number; pos: number } {
    return { seed: this.seed, counter: this.counter, pos: this.pos };
  }
  static fromState(s: { seed: number; counter: number; pos: number }, stream = 'default'): SeededRng {
    const r = new SeededRng(s.seed, stream, s.counter);
    if (s.pos < 4) {
      r.counter = s.counter - 1;
      r.refill();
      r.pos = s.pos;
    }
    return r;
  }
  private refill(): void {
    philox4x32(this.counter >>> 0, Math.floor(this.counter / 4294967296), 0, 0, this.k0, this.k1, this.buf);
    this.counter++;
    this.pos = 0;
  }
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    if (this.pos >= 4) this.refill();
    return this.buf[this.pos++];
  }
  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() * INV_2_32;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }
  /** Standard normal. */
  normal(): number {
    const u1 = (this.nextUint32() + 0.5) * INV_2_32;
    const u2 = (this.nextUint32() + 0.5) * INV_2_32;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(TWO_PI * u2);
  }
  /** Fisher–Yates shuffle of a copy. */
  shuffle<T>(xs: readonly T[]): T[] {
    const a = xs.slice();
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
  /** A 32-bit seed for a sub-generator (e.g. tf.randomNormal). */
  nextSeed(): number {
    return this.nextUint32();
  }
}

/**
 * The Philox key of a noise stream: (seed, hash of the stream kind and step). The counter words are
 * (element block, sample, EoT index, generation); see the NoiseSources of @dbp-bench/framework.
 */
export function noiseStreamKey(seed: number, stream: NoiseStream): [number, number] {
  const k0 = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296), 0x27d4eb2d);
  const k1 = hash32(`${stream.kind}:${stream.step ?? 0}`);
  return [k0 >>> 0, k1];
}

/** Rows for a batch of samples, each repeated `eot` times (EoT replicas in the batch dimension, sample-major). */
export function eotRows(samples: readonly number[], eot = 1): NoiseRow[] {
  const rows: NoiseRow[] = [];
  for (const sample of samples) for (let e = 0; e < eot; e++) rows.push({ sample, eot: e });
  return rows;
}
