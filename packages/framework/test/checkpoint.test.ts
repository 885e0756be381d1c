/**
 * Gradients through long chains with per-step recompute (src/checkpoint.ts).
 *
 * Memory estimate for the 100-step test below (batch 8, 32x32x3; a step is two 3x3 conv layers of 40
 * channels, each followed by group norm and SiLU, then a 40->3 conv): plain `tf.grad` keeps every
 * step's activations for the backward pass, ~46 MB per step on the wasm backend (~1.2 MB per 40-channel
 * activation at batch 8, ~40 of them saved per step; with 32 channels the same net measured 36-37 MB
 * per step both by tf.profile and by the growth of the wasm heap). 100 steps would need ~4.6 GB of saved
 * activations: more than the 4 GB wasm heap, and an overflowing multi-threaded heap hangs instead of
 * throwing, so the plain 100-step version is deliberately NOT run. With checkpointing only the 100
 * step inputs and the 100 noise tensors (96 KB each) are kept, plus one step's activations during the
 * backward pass: ~50-60 MB. The test measures the per-step figure (tf.profile of 2 vs 1 plain steps),
 * checks that 100 x that exceeds 4 GB, and that the checkpointed peak is a small fraction of it.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';

const maxRelDiff = (a: tf.Tensor, b: tf.Tensor): number => maxRelativeError(a.dataSync(), b.dataSync());
import { chainValueAndGrad, checkpointedChain, isRecordingGradient, maxRelativeError, type ChainStep } from '../src';

function values(n: number, seed: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * scale;
  }
  return a;
}

/** Group norm over NHWC as 4-D means over H,W and a group average (groups of `per` channels). */
function groupNorm(x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [n, , , c] = x.shape;
  const per = c / groups;
  const gavg = (t: tf.Tensor) => tf.reshape(tf.tile(tf.mean(tf.reshape(t, [n, groups, per]), 2, true), [1, 1, per]), [n, 1, 1, c]);
  const m = gavg(tf.mean(x, [1, 2], true));
  const m2 = gavg(tf.mean(tf.square(x), [1, 2], true));
  return tf.mul(tf.sub(x, m), tf.rsqrt(tf.add(tf.sub(m2, tf.square(m)), 1e-5)));
}

/** A small conv net as a chain step: x - a * net(x) + b * noise, with weights that are constants. */
class SmallNet {
  readonly weights: tf.Tensor4D[];
  constructor(
    readonly channels: number[],
    seed: number,
  ) {
    let cin = 3;
    this.weights = [];
    for (const c of [...channels, 3]) {
      this.weights.push(tf.tensor4d(values(9 * cin * c, seed++, 2 * Math.sqrt(3 / (9 * cin))), [3, 3, cin, c]));
      cin = c;
    }
  }
  net(x: tf.Tensor4D): tf.Tensor4D {
    let h = x;
    for (let i = 0; i < this.weights.length - 1; i++) {
      h = groupNorm(tf.conv2d(h, this.weights[i], 1, 'same'), 4);
      h = tf.mul(h, tf.sigmoid(h));
    }
    return tf.conv2d(h, this.weights[this.weights.length - 1], 1, 'same');
  }
  readonly step: ChainStep<tf.Tensor4D> = (x, i, aux) => tf.add(tf.sub(x, tf.mul(this.net(x), 0.1 + 0.01 * i)), tf.mul(aux[0], 0.05));
  dispose(): void {
    tf.dispose(this.weights);
  }
}

/** The chain as a plain loop (what tf.grad differentiates without checkpointing). */
function plainChain(x0: tf.Tensor4D, n: number, step: ChainStep<tf.Tensor4D>, aux: tf.Tensor[][]): tf.Tensor4D {
  let x = x0;
  for (let i = 0; i < n; i++) x = step(x, i, aux[i]);
  return x;
}

describe('checkpointed chains', function () {
  const shape: [number, number, number, number] = [2, 8, 8, 3];
  const steps = 4;
  let model: SmallNet;
  let x0: tf.Tensor4D;
  let r: tf.Tensor4D;
  let noise: tf.Tensor[][];

  before(function () {
    model = new SmallNet([8], 100);
    x0 = tf.tensor4d(values(2 * 8 * 8 * 3, 1), shape);
    r = tf.tensor4d(values(2 * 8 * 8 * 3, 2), shape);
    noise = Array.from({ length: steps }, (_, i) => [tf.tensor4d(values(2 * 8 * 8 * 3, 10 + i), shape)]);
  });
  after(function () {
    model.dispose();
    tf.dispose([x0, r, ...noise.flat()]);
  });

  const loss = (xn: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.square(xn), r));

  it('checkpointedChain inside tf.grad equals plain tf.grad within 1e-5', function () {
    const plain = tf.grad((x: tf.Tensor) => loss(plainChain(x as tf.Tensor4D, steps, model.step, noise)))(x0);
    const ckpt = tf.grad((x: tf.Tensor) => loss(checkpointedChain(x as tf.Tensor4D, steps, model.step, noise)))(x0);
    expect(maxRelDiff(ckpt, plain)).to.be.below(1e-5);
    expect(tf.max(tf.abs(plain)).dataSync()[0]).to.be.above(0);
    tf.dispose([plain, ckpt]);
  });

  it('chainValueAndGrad equals plain tf.valueAndGrad within 1e-5', function () {
    const plain = tf.valueAndGrad((x: tf.Tensor) => loss(plainChain(x as tf.Tensor4D, steps, model.step, noise)))(x0);
    const ck = chainValueAndGrad(x0, steps, model.step as ChainStep, loss, noise);
    expect(Math.abs(ck.value - plain.value.dataSync()[0]) / Math.abs(plain.value.dataSync()[0])).to.be.below(1e-5);
    expect(maxRelDiff(ck.grad, plain.grad)).to.be.below(1e-5);
    expect(x0.isDisposed).to.equal(false);
    tf.dispose([plain.value, plain.grad, ck.grad]);
  });

  it('works inside an outer tf.grad with ops before and after it and noise drawn inside', function () {
    // pre and post ops around the chain; the chain's noise is drawn inside the differentiated function.
    const outer = (useCheckpoint: boolean) => (x: tf.Tensor) => {
      const pre = tf.add(tf.mul(tf.tanh(x), 0.9), tf.mul(x, 0.1)) as tf.Tensor4D;
      const z = Array.from({ length: steps }, (_, i) => [tf.randomNormal(shape, 0, 1, 'float32', 1000 + i)]);
      expect(isRecordingGradient()).to.equal(true);
      const xn = useCheckpoint ? checkpointedChain(pre, steps, model.step, z) : plainChain(pre, steps, model.step, z);
      return tf.add(loss(tf.sigmoid(xn)), tf.mul(tf.sum(tf.square(x)), 0.01)) as tf.Scalar;
    };
    const plain = tf.grad(outer(false))(x0);
    const ckpt = tf.grad(outer(true))(x0);
    expect(maxRelDiff(ckpt, plain)).to.be.below(1e-5);
    tf.dispose([plain, ckpt]);
  });

  it('without a gradient tape it is the plain forward loop and keeps x0', function () {
    const before = tf.memory().numTensors;
    const a = checkpointedChain(x0, steps, model.step, noise);
    const b = tf.tidy(() => plainChain(x0, steps, model.step, noise));
    expect(maxRelDiff(a, b)).to.be.below(1e-6);
    expect(x0.isDisposed).to.equal(false);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('does not grow numTensors across repeated calls', function () {
    const g = tf.grad((x: tf.Tensor) => loss(checkpointedChain(x as tf.Tensor4D, steps, model.step, noise)));
    let base = -1;
    for (let it = 0; it < 3; it++) {
      const a = g(x0);
      const b = chainValueAndGrad(x0, steps, model.step as ChainStep, loss, noise);
      tf.dispose([a, b.grad]);
      if (base < 0) base = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `iteration ${it}`).to.equal(base);
    }
  });

  describe('a 100-step chain at batch 8', function () {
    this.timeout(240_000);
    it('runs with checkpointing in a fraction of the memory plain tf.grad would need (> 4 GB: not run)', async function () {
      const big = new SmallNet([40, 40], 200);
      const bshape: [number, number, number, number] = [8, 32, 32, 3];
      const n = 100;
      const x = tf.tensor4d(values(8 * 32 * 32 * 3, 3), bshape);
      const rr = tf.tensor4d(values(8 * 32 * 32 * 3, 4), bshape);
      const z = Array.from({ length: n }, (_, i) => [tf.randomNormal(bshape, 0, 1, 'float32', 2000 + i)]);
      const lossBig = (xn: tf.Tensor): tf.Scalar => tf.mean(tf.mul(xn, rr));
      try {
        const base = tf.memory().numBytes;
        // Saved activations per plain step: the peak of 2 steps minus the peak of 1 step.
        const plainPeak = async (k: number) =>
          (
            await tf.profile(() => {
              const g = tf.grad((xx: tf.Tensor) => lossBig(plainChain(xx as tf.Tensor4D, k, big.step, z)))(x);
              g.dataSync();
              g.dispose();
            })
          ).peakBytes - base;
        const perStep = (await plainPeak(2)) - (await plainPeak(1));
        const before = tf.memory().numTensors;
        let value = 0;
        const prof = await tf.profile(() => {
          const r = chainValueAndGrad(x, n, big.step as ChainStep, lossBig, z);
          value = r.value;
          expect(r.grad.shape).to.deep.equal(bshape);
          expect(Number.isFinite(tf.tidy(() => tf.sum(r.grad).dataSync()[0]))).to.equal(true);
          r.grad.dispose();
        });
        expect(tf.memory().numTensors).to.equal(before);
        expect(Number.isFinite(value)).to.equal(true);
        const ckptPeak = prof.peakBytes - base;
        const plainEstimate = n * perStep;
        console.log(
          `      plain tf.grad: ${(perStep / 2 ** 20).toFixed(1)} MB per step -> ~${(plainEstimate / 2 ** 30).toFixed(2)} GB for ${n} steps (4 GB heap); ` +
            `checkpointed peak ${(ckptPeak / 2 ** 20).toFixed(0)} MB`,
        );
        // The claim of the module docs: plain backprop through 100 steps does not fit the 4 GB heap...
        expect(plainEstimate).to.be.above(4 * 2 ** 30);
        // ...while the checkpointed chain needs a small fraction of it.
        expect(ckptPeak).to.be.below(plainEstimate / 20);
      } finally {
        big.dispose();
        tf.dispose([x, rr, ...z.flat()]);
      }
    });
  });
});
