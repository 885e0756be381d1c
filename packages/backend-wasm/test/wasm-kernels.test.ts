/**
 * The replacement wasm kernels (src/kernels/*.ts) against the cpu backend as the reference:
 * convolution and depthwise-convolution gradients w.r.t. input and filter for strides 1 and 2, 'same'
 * and 'valid' padding and odd sizes; batched and transposed matMul and its gradient; the zero-copy Identity; UnsortedSegmentSum;
 * and a ResNet/UNet-like backward pass that would fail on any kernel wasm does not register.
 */
import { expect } from 'chai';
// @tensorflow/tfjs registers the gradient functions and chained ops (as @dbp-bench/framework does).
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { maxRelativeError as relErr } from '@dbp-bench/core';
import { installedWasmKernels, wasmKernelCacheSize } from '../src';

type Arr = Float32Array;

/** Deterministic values in [-0.5, 0.5) (an LCG; independent of any backend RNG). */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}
function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Run `f` with `name` as the active backend, then switch back. `f` must return plain arrays. */
async function onBackend<T>(name: string, f: () => T): Promise<T> {
  const prev = tf.getBackend();
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not initialise`);
  try {
    return f();
  } finally {
    await tf.setBackend(prev);
  }
}

function expectClose(wasm: Arr[], cpu: Arr[], tol: number, what: string): void {
  expect(wasm.length).to.equal(cpu.length);
  for (let i = 0; i < wasm.length; i++) {
    const e = relErr(wasm[i], cpu[i]);
    expect(e, `${what} [output ${i}]: relative error ${e.toExponential(2)}`).to.be.below(tol);
  }
}

describe('wasm replacement kernels', function () {
  before(function () {
    if (tf.getBackend() !== 'wasm' || installedWasmKernels().length === 0) {
      console.log('    (skipped: the active backend is not wasm with the replacement kernels)');
      this.skip();
    }
  });

  describe('conv2d gradients match the cpu backend', function () {
    type Case = {
      x: [number, number, number, number];
      f: [number, number, number, number];
      s: number | [number, number];
      pad: 'same' | 'valid';
    };
    const cases: Case[] = [
      { x: [2, 8, 8, 3], f: [3, 3, 3, 4], s: 1, pad: 'same' },
      { x: [1, 8, 8, 2], f: [3, 3, 2, 3], s: 1, pad: 'valid' },
      { x: [1, 11, 11, 3], f: [5, 5, 3, 4], s: 1, pad: 'same' },
      { x: [2, 5, 5, 4], f: [1, 1, 4, 3], s: 1, pad: 'valid' },
      { x: [2, 9, 7, 3], f: [3, 3, 3, 5], s: 2, pad: 'same' },
      { x: [2, 9, 7, 3], f: [3, 3, 3, 5], s: 2, pad: 'valid' },
      { x: [1, 6, 6, 2], f: [3, 3, 2, 2], s: 2, pad: 'valid' },
      { x: [1, 13, 13, 4], f: [3, 3, 4, 6], s: 2, pad: 'valid' },
      { x: [2, 10, 10, 4], f: [4, 4, 4, 3], s: 2, pad: 'same' },
      { x: [2, 8, 8, 3], f: [1, 1, 3, 4], s: 2, pad: 'same' },
      { x: [2, 7, 9, 3], f: [3, 3, 3, 2], s: [1, 2], pad: 'same' },
      { x: [3, 16, 16, 8], f: [3, 3, 8, 16], s: 1, pad: 'same' },
      { x: [2, 15, 15, 8], f: [3, 3, 8, 8], s: 2, pad: 'same' },
    ];
    for (const c of cases) {
      it(`x ${c.x.join('x')}, filter ${c.f.join('x')}, stride ${String(c.s)}, ${c.pad}`, async function () {
        const xs = values(size(c.x), 1);
        const fs = values(size(c.f), 2);
        const compute = (): Arr[] =>
          tf.tidy(() => {
            const x = tf.tensor4d(xs, c.x);
            const f = tf.tensor4d(fs, c.f);
            const y0 = tf.conv2d(x, f, c.s, c.pad);
            const r = tf.tensor(values(y0.size, 3), y0.shape);
            const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
              tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), r)),
            )([x, f]);
            return [y0.dataSync() as Arr, gx.dataSync() as Arr, gf.dataSync() as Arr];
          });
        const before = tf.memory().numTensors;
        const w = compute();
        expect(tf.memory().numTensors).to.equal(before);
        const ref = await onBackend('cpu', compute);
        expectClose(w, ref, 1e-4, 'conv2d y, dx, dW');
      });
    }

    // Depthwise convolution: [kh, kw, ci, multiplier] filters (the package registers no gradient kernel).
    type DwCase = {
      x: [number, number, number, number];
      f: [number, number, number, number];
      s: number | [number, number];
      pad: 'same' | 'valid';
    };
    const dwCases: DwCase[] = [
      { x: [2, 8, 8, 3], f: [3, 3, 3, 1], s: 1, pad: 'same' },
      { x: [2, 9, 7, 4], f: [3, 3, 4, 1], s: 2, pad: 'same' },
      { x: [1, 9, 9, 2], f: [3, 3, 2, 1], s: 2, pad: 'valid' },
      { x: [2, 8, 8, 3], f: [3, 3, 3, 2], s: 1, pad: 'same' },
      { x: [1, 10, 10, 2], f: [5, 5, 2, 3], s: 2, pad: 'valid' },
    ];
    for (const c of dwCases) {
      it(`depthwise x ${c.x.join('x')}, filter ${c.f.join('x')}, stride ${String(c.s)}, ${c.pad}`, async function () {
        const xs = values(size(c.x), 4);
        const fs = values(size(c.f), 5);
        const conv = (a: tf.Tensor, b: tf.Tensor): tf.Tensor4D => tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad);
        const compute = (): Arr[] =>
          tf.tidy(() => {
            const x = tf.tensor4d(xs, c.x);
            const f = tf.tensor4d(fs, c.f);
            const y0 = conv(x, f);
            const r = tf.tensor(values(y0.size, 6), y0.shape);
            const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a, b), r)))([x, f]);
            return [y0.dataSync() as Arr, gx.dataSync() as Arr, gf.dataSync() as Arr];
          });
        const before = tf.memory().numTensors;
        const w = compute();
        expect(tf.memory().numTensors).to.equal(before);
        const ref = await onBackend('cpu', compute);
        expectClose(w, ref, 1e-4, 'depthwiseConv2d y, dx, dW');
      });
    }

    it('caches the flipped filter per weight buffer and frees it with the weight', function () {
      const w = tf.tensor4d(values(3 * 3 * 4 * 6, 5), [3, 3, 4, 6]);
      const x = tf.tensor4d(values(2 * 8 * 8 * 4, 6), [2, 8, 8, 4]);
      const grad = tf.grad((a: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, w, 1, 'same'))));
      let first: Float32Array | undefined;
      const cached = wasmKernelCacheSize(); // other live weights may have entries
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        const g = grad(x);
        const v = g.dataSync() as Float32Array;
        g.dispose();
        if (first) expect(relErr(v, first)).to.equal(0);
        else first = v.slice();
        expect(tf.memory().numTensors).to.equal(before);
      }
      expect(wasmKernelCacheSize()).to.equal(cached + 1);
      w.dispose();
      expect(wasmKernelCacheSize()).to.equal(cached);
      x.dispose();
    });
  });

  describe('batchMatMul matches the cpu backend', function () {
    // The last flag: also compare gradients (tfjs-core 4.22's BatchMatMul gradient does not reduce
    // broadcast batch dimensions on any backend, so broadcast cases compare values only).
    const cases: [number[], number[], boolean, boolean, boolean?][] = [
      [[3, 4, 5], [3, 5, 6], false, false],
      [[3, 5, 4], [3, 5, 6], true, false],
      [[3, 4, 5], [3, 6, 5], false, true],
      [[3, 5, 4], [3, 6, 5], true, true],
      [[1, 4, 5], [3, 5, 6], false, false, false],
      [[3, 4, 5], [5, 6], false, false, false],
      [[2, 3, 4, 5], [2, 3, 6, 5], false, true],
      [[7, 5], [7, 3], true, false],
      [[4, 7], [3, 7], false, true],
      [[6, 33, 17], [6, 33, 9], true, false],
    ];
    for (const [as, bs, ta, tb, withGrad = true] of cases) {
      it(`a ${as.join('x')}${ta ? 'ᵀ' : ''} . b ${bs.join('x')}${tb ? 'ᵀ' : ''} (value${withGrad ? ' and gradients' : ''})`, async function () {
        const av = values(size(as), 7);
        const bv = values(size(bs), 8);
        const compute = (): Arr[] =>
          tf.tidy(() => {
            const a = tf.tensor(av, as);
            const b = tf.tensor(bv, bs);
            const y = tf.matMul(a, b, ta, tb);
            if (!withGrad) return [y.dataSync() as Arr];
            const r = tf.tensor(values(y.size, 9), y.shape);
            const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), r)))([a, b]);
            return [y.dataSync() as Arr, ga.dataSync() as Arr, gb.dataSync() as Arr];
          });
        const before = tf.memory().numTensors;
        const w = compute();
        expect(tf.memory().numTensors).to.equal(before);
        const ref = await onBackend('cpu', compute);
        expectClose(w, ref, 1e-5, 'matMul y, da, db');
      });
    }
  });

  it('maxPool gradient matches the cpu backend, also for windows of negative values', async function () {
    const xv = values(2 * 9 * 9 * 5, 14).map((v) => v - 0.4); // mostly negative
    const cfgs: [number, number, 'same' | 'valid'][] = [
      [2, 2, 'valid'],
      [2, 2, 'same'],
      [3, 2, 'same'],
      [3, 1, 'valid'],
    ];
    for (const [k, s, pad] of cfgs) {
      const compute = (): Arr[] =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, [2, 9, 9, 5]);
          const y = tf.maxPool(x, k, s, pad);
          const r = tf.tensor(values(y.size, 15), y.shape);
          return [
            tf
              .grad((p: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(p as tf.Tensor4D, k, s, pad), r)))(x)
              .dataSync() as Arr,
          ];
        });
      const w = compute();
      const ref = await onBackend('cpu', compute);
      expectClose(w, ref, 1e-6, `maxPool ${k}x${k}/${s} ${pad} gradient`);
    }
  });

  it('Mean and Sum (average pooling over a block of axes, stock otherwise) match the cpu backend', async function () {
    const xv = values(4 * 5 * 7 * 6, 16).map((v) => v + 2); // an offset: the mean matters
    const cases: [number | number[], boolean][] = [
      [[1, 2], false],
      [[1, 2], true],
      [[0, 1, 2], false],
      [1, false],
      [[2, 1], true],
      [0, false],
      [[1, 3], false], // not consecutive: stock
      [-1, false], // last axis: stock
      [[0, 1, 2, 3], false], // everything: stock
    ];
    for (const [axis, keep] of cases) {
      const compute = (): Arr[] =>
        tf.tidy(() => {
          const x = tf.tensor4d(xv, [4, 5, 7, 6]);
          const m = tf.mean(x, axis, keep);
          const s = tf.sum(x, axis, keep);
          const r = tf.tensor(values(m.size, 17), m.shape);
          const g = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.mean(p, axis, keep), tf.sum(p, axis, keep)), r)))(x);
          return [m.dataSync() as Arr, s.dataSync() as Arr, g.dataSync() as Arr, new Float32Array(m.shape), new Float32Array(s.shape)];
        });
      const w = compute();
      const ref = await onBackend('cpu', compute);
      expectClose(w, ref, 2e-6, `mean/sum over ${JSON.stringify(axis)} keepDims ${keep} (values, gradient, shapes)`);
    }
    // int32 sums keep their dtype (the stock kernel).
    const si = tf.sum(tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], 'int32'), [0, 1]);
    expect(si.dtype).to.equal('int32');
    expect(Array.from(si.dataSync())).to.deep.equal([16, 20]);
    si.dispose();
  });

  it('Slice, SplitV and Concat copy exactly what the cpu backend does, for float32 and int32', async function () {
    const xv = values(3 * 4 * 5 * 6, 18);
    const compute = (): Arr[] =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [3, 4, 5, 6]);
        const xi = tf.cast(tf.mul(x, 1000), 'int32');
        const outs: tf.Tensor[] = [
          tf.slice(x, [0, 1, 0, 2], [3, 2, 5, 3]),
          tf.slice(x, [1, 0, 0, 0], [1, 4, 5, 6]),
          tf.slice(x, [0, 0, 0, 5], [-1, -1, -1, 1]),
          tf.slice(x, [2, 3, 4, 5], [1, 1, 1, 1]),
          tf.slice(xi, [0, 1, 1, 1], [2, 2, 2, 2]),
          tf.slice(tf.reshape(x, [360]), [7], [100]),
          ...tf.split(x, [2, 4], 3),
          ...tf.split(x, 2, 1),
          ...tf.split(xi, [1, 1, 1], 0),
          tf.concat([x, tf.slice(x, [0, 0, 0, 0], [3, 4, 5, 2])], 3),
          tf.concat([x, x, x], 0),
          tf.concat([x, tf.zeros([3, 0, 5, 6]), x], 1),
          tf.concat([xi, xi], -1),
          tf.concat([tf.slice(x, [0, 0, 0, 0], [3, 4, 5, 1]), tf.slice(x, [0, 0, 0, 1], [3, 4, 5, 1])], 3),
        ];
        const r = tf.tensor4d(values(3 * 4 * 5 * 9, 19), [3, 4, 5, 9]);
        const g = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, tf.slice(p, [0, 0, 0, 1], [3, 4, 5, 3])], 3), r)))(x);
        return [
          ...outs.map((t) => (t.dtype === 'int32' ? Float32Array.from(t.dataSync()) : (t.dataSync() as Arr))),
          ...outs.map((t) => new Float32Array(t.shape)),
          g.dataSync() as Arr,
        ];
      });
    const w = compute();
    const ref = await onBackend('cpu', compute);
    expectClose(w, ref, 1e-7, 'slice / split / concat (values and shapes) and the concat+slice gradient');
  });

  it('Cast to the same dtype aliases the buffer; a real cast converts', function () {
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1.5, -2.5, 3]);
    const y = tf.cast(x, 'float32');
    expect(y.dataId).to.equal(x.dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).to.deep.equal([1.5, -2.5, 3]);
    const z = tf.cast(y, 'int32');
    expect(z.dtype).to.equal('int32');
    expect(Array.from(z.dataSync())).to.deep.equal([1, -2, 3]);
    tf.dispose([y, z]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('Identity (tf.clone) aliases the buffer and keeps it alive until the last reference is gone', function () {
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1, 2, 3]);
    const y = tf.clone(x);
    expect(y.dataId).to.equal(x.dataId);
    x.dispose();
    expect(Array.from(y.dataSync())).to.deep.equal([1, 2, 3]);
    const z = tf.add(y, 1);
    expect(Array.from(z.dataSync())).to.deep.equal([2, 3, 4]);
    tf.dispose([y, z]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('Sign matches the cpu backend bit for bit, down to the smallest normal and subnormal floats', async function () {
    // The package's kernel returned 0 for |x| < ~1e-7: every l_inf step on a confidently classified sample was zero.
    const edge = [0, -0, NaN, Infinity, -Infinity, 1e30, -1e30, 3.4e38, -3.4e38, 1, -1, 1e-7, -1e-7, 2e-7, -2e-7];
    for (let e = -8; e >= -45; e--) edge.push(10 ** e, -(10 ** e));
    edge.push(1.1754944e-38, -1.1754944e-38, 1.17549421e-38, 1.4e-45, -1.4e-45, 2.8e-45, -2.8e-45);
    const xv = Float32Array.from([...edge, ...values(4096, 30).map((v) => v * 1e-6)]);
    const iv = Int32Array.from([0, 1, -1, 2147483647, -2147483648, 5, -7]);
    const compute = (): Arr[] =>
      tf.tidy(() => [
        tf.sign(tf.tensor1d(xv)).dataSync() as Arr,
        tf.sign(tf.tensor2d(xv.subarray(0, 40), [8, 5])).dataSync() as Arr,
        Float32Array.from(tf.sign(tf.tensor1d(iv, 'int32')).dataSync()),
      ]);
    const w = compute();
    const ref = await onBackend('cpu', compute);
    for (let k = 0; k < w.length; k++) {
      expect(w[k].length).to.equal(ref[k].length);
      for (let i = 0; i < w[k].length; i++)
        expect(Object.is(w[k][i] + 0, ref[k][i] + 0), `sign output ${k}[${i}]: wasm ${w[k][i]}, cpu ${ref[k][i]}`).to.equal(true);
    }
    // The values themselves, independently of the cpu backend.
    expect(Array.from(w[0].subarray(0, 11))).to.deep.equal([0, 0, 0, 1, -1, 1, -1, 1, -1, 1, -1]);
    const tiny = w[0].subarray(15, edge.length);
    for (let i = 0; i < tiny.length; i++)
      expect(tiny[i], `sign of ${edge[15 + i]}`).to.equal(Math.fround(edge[15 + i]) > 0 ? 1 : Math.fround(edge[15 + i]) < 0 ? -1 : 0);
    expect(Array.from(w[2])).to.deep.equal([0, 1, -1, 1, -1, 1, -1]);
  });

  /** Element-by-element identity with the cpu backend's result (NaN equals NaN; the sign of zero counts). */
  function expectSameBits(w: Arr[], ref: Arr[], what: string): void {
    expect(w.length).to.equal(ref.length);
    for (let k = 0; k < w.length; k++) {
      expect(w[k].length, `${what} output ${k} length`).to.equal(ref[k].length);
      for (let i = 0; i < w[k].length; i++)
        expect(Object.is(w[k][i], ref[k][i]), `${what} output ${k}[${i}]: wasm ${w[k][i]}, cpu ${ref[k][i]}`).to.equal(true);
    }
  }
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1.4e-45, -1.4e-45, 1e-40, 1e-30, -1e-30, 3e38, -3e38];

  it('ClipByValue, Maximum and Minimum propagate NaN and match the cpu backend bit for bit, broadcasts included', async function () {
    // The package's XNNPACK kernels returned the bound (clip) or the other operand (max, min) for NaN.
    const av = Float32Array.from([...specials, ...values(4 * 5 * 6 - specials.length, 50)]);
    const bv = Float32Array.from([...values(4 * 5 * 6 - specials.length, 51), ...specials]);
    const compute = (): Arr[] =>
      tf.tidy(() => {
        const a = tf.tensor3d(av, [4, 5, 6]);
        const b = tf.tensor3d(bv, [4, 5, 6]);
        const row = tf.tensor1d([NaN, -0.2, 0, -0, 0.3, Infinity]);
        const col = tf.tensor3d([0.1, NaN, -Infinity, 0.2, -0.1], [1, 5, 1]);
        const outs = [
          tf.clipByValue(a, -0.25, 0.25),
          tf.clipByValue(a, 0, 1),
          tf.maximum(a, b),
          tf.minimum(a, b),
          tf.maximum(a, 0.1),
          tf.minimum(-0.1, b),
          tf.maximum(a, row),
          tf.minimum(col, b),
          tf.maximum(row, col),
          tf.minimum(tf.scalar(NaN), tf.scalar(1)),
        ];
        return [...outs.map((t) => t.dataSync() as Arr), ...outs.map((t) => new Float32Array(t.shape))];
      });
    const before = tf.memory().numTensors;
    const w = compute();
    expect(tf.memory().numTensors).to.equal(before);
    const ref = await onBackend('cpu', compute);
    expectSameBits(w, ref, 'clip / maximum / minimum');
    expect(Number.isNaN(w[0][0]) && Number.isNaN(w[2][0]) && Number.isNaN(w[3][0]) && Number.isNaN(w[9][0])).to.equal(true);
    // int32 operands keep the package's kernels.
    const mi = tf.maximum(tf.tensor1d([1, -5, 7], 'int32'), tf.tensor1d([2, -6, 7], 'int32'));
    expect(mi.dtype).to.equal('int32');
    expect(Array.from(mi.dataSync())).to.deep.equal([2, -5, 7]);
    mi.dispose();
  });

  it('MaxPool of an input holding NaN matches the cpu backend bit for bit (NaN never wins a window)', async function () {
    // The package's kernel gave -Infinity for every window holding a NaN.
    const xv = values(2 * 7 * 7 * 3, 54);
    for (let i = 0; i < xv.length; i += 11) xv[i] = NaN;
    for (const i of [0, 3, 21, 24]) xv[i] = NaN; // the first 2x2 window of channel 0: NaN only, so -Infinity (as cpu)
    xv[40] = -Infinity;
    xv[41] = Infinity;
    const cfgs: [number, number, 'same' | 'valid'][] = [
      [2, 2, 'valid'],
      [3, 2, 'same'],
      [3, 1, 'valid'],
    ];
    const compute = (): Arr[] =>
      tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 7, 7, 3]);
        const clean = tf.tensor4d(values(2 * 7 * 7 * 3, 55), [2, 7, 7, 3]);
        const outs = cfgs.flatMap(([k, st, pad]) => [tf.maxPool(x, k, st, pad), tf.maxPool(clean, k, st, pad)]);
        return [...outs.map((t) => t.dataSync() as Arr), ...outs.map((t) => new Float32Array(t.shape))];
      });
    const before = tf.memory().numTensors;
    const w = compute();
    expect(tf.memory().numTensors).to.equal(before);
    const ref = await onBackend('cpu', compute);
    expectSameBits(w, ref, 'maxPool');
    expect(w[0][0]).to.equal(-Infinity);
  });

  it('Sin and Cos match the cpu backend bit for bit, from subnormal to huge arguments', async function () {
    // The package's kernels gave sin(x) = 0 for |x| < 1e-16 and garbage beyond |x| ~ 1e10.
    const xs: number[] = [...specials];
    for (let e = -45; e <= 30; e++) xs.push(10 ** e, -(3 * 10 ** e));
    const xv = Float32Array.from([...xs, ...values(1000, 52).map((v) => v * 2000)]);
    const compute = (): Arr[] =>
      tf.tidy(() => [tf.sin(tf.tensor1d(xv)).dataSync() as Arr, tf.cos(tf.tensor2d(xv.subarray(0, 150), [15, 10])).dataSync() as Arr]);
    const w = compute();
    const ref = await onBackend('cpu', compute);
    expectSameBits(w, ref, 'sin / cos');
    expect(w[0][specials.length + 2 * 25]).to.equal(Math.fround(1e-20)); // sin(1e-20) = 1e-20
  });

  it('Mean and Sum through average pooling keep NaN and ±Inf where the cpu backend has them', async function () {
    // XNNPACK's pooling clamps its output: NaN came out as -Infinity.
    const xv = values(3 * 4 * 5, 53);
    [0, 7, 13, 22, 41].forEach((i, k) => (xv[i] = [NaN, Infinity, -Infinity, NaN, -Infinity][k]));
    xv[27] = Infinity; // with the -Infinity at 22 (same column): NaN
    const compute = (): Arr[] =>
      tf.tidy(() => {
        const x = tf.tensor3d(xv, [3, 4, 5]);
        return [
          tf.mean(x, 1).dataSync() as Arr,
          tf.sum(x, 1).dataSync() as Arr,
          tf.mean(x, [0, 1]).dataSync() as Arr,
          tf.sum(tf.reshape(x, [12, 5]), 0).dataSync() as Arr,
        ];
      });
    const w = compute();
    const ref = await onBackend('cpu', compute);
    for (let k = 0; k < w.length; k++) {
      for (let i = 0; i < w[k].length; i++) {
        const a = w[k][i];
        const b = ref[k][i];
        if (!Number.isFinite(b)) expect(Object.is(a, b), `output ${k}[${i}]: wasm ${a}, cpu ${b}`).to.equal(true);
        else expect(Math.abs(a - b), `output ${k}[${i}]`).to.be.below(1e-6 * Math.max(1, Math.abs(b)));
      }
    }
    expect(Number.isNaN(w[0][0])).to.equal(true);
  });

  it('UnsortedSegmentSum (the gradient of tf.gather) matches the cpu backend', async function () {
    const xv = values(5 * 3, 10);
    const compute = (): Arr[] =>
      tf.tidy(() => {
        const x = tf.tensor2d(xv, [5, 3]);
        const s = tf.unsortedSegmentSum(x, tf.tensor1d([0, 2, 0, 3, 2], 'int32'), 4);
        const g = tf.grad((p: tf.Tensor) =>
          tf.sum(tf.mul(tf.gather(p, tf.tensor1d([4, 0, 4, 1], 'int32'), 0), tf.tensor2d(values(12, 11), [4, 3]))),
        )(x);
        return [s.dataSync() as Arr, g.dataSync() as Arr];
      });
    const w = compute();
    const ref = await onBackend('cpu', compute);
    expectClose(w, ref, 1e-6, 'unsortedSegmentSum, gather gradient');
  });

  it('nearest-neighbour upsampling gradient equals 2x2 sum pooling of dy', function () {
    // The cpu backend's ResizeNearestNeighborGrad is wrong (docs/PERFORMANCE.md item 4): check by identity.
    tf.tidy(() => {
      const x = tf.tensor4d(values(2 * 4 * 4 * 3, 12), [2, 4, 4, 3]);
      const r = tf.tensor4d(values(2 * 8 * 8 * 3, 13), [2, 8, 8, 3]);
      const g = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(p as tf.Tensor4D, [8, 8]), r)))(x);
      const pooled = tf.mul(tf.avgPool(r, 2, 2, 'valid'), 4);
      expect(relErr(g.dataSync() as Arr, pooled.dataSync() as Arr)).to.be.below(1e-6);
    });
  });

  it('a ResNet/UNet-like backward pass (every gradient kernel it needs) matches the cpu backend', async function () {
    // conv s1/s2 + bias, group norm, SiLU, ReLU, softplus, avg/max pool, concat, slice, attention
    // (batched matMul with a transposed operand, softmax), dense layer, log-softmax cross-entropy, gather.
    const shapes: Record<string, number[]> = {
      w1: [3, 3, 3, 8],
      b1: [8],
      w2: [3, 3, 8, 8],
      w3: [3, 3, 16, 8],
      wq: [8, 8],
      wk: [8, 8],
      wv: [8, 8],
      wd: [8, 5],
      bd: [5],
      gamma: [8],
    };
    const init = Object.fromEntries(Object.entries(shapes).map(([k, s], i) => [k, values(size(s), 20 + i)]));
    const xv = values(2 * 8 * 8 * 3, 40);
    // The cpu backend's ResizeNearestNeighborGrad is wrong: its run upsamples with an equivalent gather.
    const resize = (t: tf.Tensor4D): tf.Tensor4D => tf.image.resizeNearestNeighbor(t, [8, 8]);
    const idx = [0, 0, 1, 1, 2, 2, 3, 3];
    const gatherUp = (t: tf.Tensor4D): tf.Tensor4D => tf.gather(tf.gather(t, idx, 1), idx, 2);
    const compute = (up: (t: tf.Tensor4D) => tf.Tensor4D): Arr[] =>
      tf.tidy(() => {
        const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, tf.tensor(init[k], s)]));
        const x = tf.tensor4d(xv, [2, 8, 8, 3]);
        const names = Object.keys(shapes);
        const net = (xx: tf.Tensor, ...ws: tf.Tensor[]): tf.Scalar => {
          const w = Object.fromEntries(names.map((k, i) => [k, ws[i]]));
          let h = tf.add(tf.conv2d(xx as tf.Tensor4D, w.w1 as tf.Tensor4D, 1, 'same'), w.b1);
          // group norm (2 groups of 4) as a 4-D mean over H,W and a group average
          const mean = tf.mean(h, [1, 2], true);
          const sq = tf.mean(tf.square(h), [1, 2], true);
          const gavg = (t: tf.Tensor) => tf.reshape(tf.tile(tf.mean(tf.reshape(t, [2, 2, 4]), 2, true), [1, 1, 4]), [2, 1, 1, 8]);
          const gm = gavg(mean);
          h = tf.mul(tf.mul(tf.sub(h, gm), tf.rsqrt(tf.add(tf.sub(gavg(sq), tf.square(gm)), 1e-5))), w.gamma);
          h = tf.mul(h, tf.sigmoid(h)); // SiLU
          const skip = h;
          h = tf.relu(tf.conv2d(h as tf.Tensor4D, w.w2 as tf.Tensor4D, 2, 'same')); // 4x4
          h = tf.softplus(up(h as tf.Tensor4D));
          h = tf.conv2d(tf.concat([h, skip], 3) as tf.Tensor4D, w.w3 as tf.Tensor4D, 1, 'same');
          h = tf.add(tf.maxPool(h as tf.Tensor4D, 2, 2, 'same'), tf.avgPool(h as tf.Tensor4D, 2, 2, 'same')); // 4x4
          const tokens = tf.reshape(h, [2, 16, 8]);
          const q = tf.reshape(tf.matMul(tf.reshape(tokens, [32, 8]), w.wq), [2, 16, 8]);
          const k = tf.reshape(tf.matMul(tf.reshape(tokens, [32, 8]), w.wk), [2, 16, 8]);
          const v = tf.reshape(tf.matMul(tf.reshape(tokens, [32, 8]), w.wv), [2, 16, 8]);
          const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(8)));
          const o = tf.add(tokens, tf.matMul(att, v));
          const feat = tf.mean(tf.slice(o, [0, 1, 0], [2, 15, 8]), 1);
          const logits = tf.add(tf.matMul(feat, w.wd), w.bd);
          const ce = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d([1, 3], 'int32'), 5)), 1)));
          const margin = tf.sum(tf.gather(logits, tf.tensor1d([0, 4], 'int32'), 1));
          return tf.add(ce, tf.mul(margin, 0.1)) as tf.Scalar;
        };
        const { value, grads } = tf.valueAndGrads(net)([x, ...names.map((k) => p[k])]);
        return [value.dataSync() as Arr, ...grads.map((g) => g.dataSync() as Arr)];
      });
    const before = tf.memory().numTensors;
    const w = compute(resize);
    expect(tf.memory().numTensors).to.equal(before);
    const ref = await onBackend('cpu', () => compute(gatherUp));
    const names = ['loss', 'x', ...Object.keys(shapes)];
    for (let i = 0; i < w.length; i++) expectClose([w[i]], [ref[i]], 1e-4, `gradient of ${names[i]}`);
  });
});
