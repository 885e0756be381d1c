/**
 * The framework bench suite: forward and forward+backward throughput of 3x3 convolutions, of a small
 * UNet-like residual block (conv - group norm - SiLU - conv, no attention) and of matrix products on
 * the active backend, with the peak `tf.memory()` bytes and the process RSS. On wasm (full mode) it also
 * measures the same gradients with the package's stock kernels, to show what the replacement kernels
 * of @dbp-bench/backend-wasm bring.
 */
import * as tf from '@tensorflow/tfjs-core';
import { activeBackend } from '@dbp-bench/framework';
import { registerWasmKernels, unregisterWasmKernels } from '@dbp-bench/backend-wasm';
import type { BenchOptions, BenchRow, BenchSuite } from './types';
import { median } from './median';

export interface MeasureOptions {
  /** Timed repetitions (median reported). */
  reps: number;
  /** Untimed repetitions first (operator creation, heap growth). */
  warmup: number;
}

export interface Measurement {
  /** Median seconds per call. */
  seconds: number;
  /** Peak tf.memory().numBytes during one call (tensors alive before the call included). */
  peakBytes: number;
  /** Process RSS after the measurement. */
  rssBytes: number;
}

/**
 * Time `fn` (run inside tf.tidy; every returned tensor is read back so the work is finished).
 * One extra call under tf.profile gives the peak bytes. Fails if the call leaks tensors.
 */
export async function measure(fn: () => tf.Tensor | tf.Tensor[], opts: MeasureOptions): Promise<Measurement> {
  const once = (): void => {
    tf.tidy(() => {
      const out = fn();
      for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    });
  };
  const before = tf.memory().numTensors;
  for (let i = 0; i < opts.warmup; i++) once();
  const times: number[] = [];
  for (let i = 0; i < opts.reps; i++) {
    const t0 = process.hrtime.bigint();
    once();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const info = await tf.profile(() => {
    once();
  });
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`bench function leaked ${after - before} tensors`);
  return { seconds: median(times), peakBytes: info.peakBytes, rssBytes: process.memoryUsage().rss };
}

/** The stock kernels are 5-50x slower: one timed call is enough to show it. */
const STOCK: MeasureOptions = { reps: 1, warmup: 0 };

/** 2 x N x outH x outW x outC x kh x kw x inC, in GFLOP. */
function convGflop(n: number, oh: number, ow: number, ci: number, co: number, k: number): number {
  return (2 * n * oh * ow * co * k * k * ci) / 1e9;
}

function row(name: string, m: Measurement, gflops: number | undefined, note?: string): BenchRow {
  return {
    suite: 'framework',
    name,
    seconds: m.seconds,
    gflops,
    gflopsPerSecond: gflops !== undefined ? gflops / m.seconds : undefined,
    peakBytes: m.peakBytes,
    rssBytes: m.rssBytes,
    note,
  };
}

/** Group norm on NHWC as a 4-D mean over H,W and a group average by a [C, C] matrix (no 5-D views). */
function groupNorm(x: tf.Tensor4D, avg: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor4D {
  const [n, , , c] = x.shape;
  const m1 = tf.matMul(tf.reshape(tf.mean(x, [1, 2]), [n, c]), avg);
  const m2 = tf.matMul(tf.reshape(tf.mean(tf.square(x), [1, 2]), [n, c]), avg);
  const mean = tf.reshape(m1, [n, 1, 1, c]);
  const inv = tf.reshape(tf.rsqrt(tf.add(tf.sub(m2, tf.square(m1)), eps)), [n, 1, 1, c]);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), inv), gamma), beta);
}

function silu(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mul(x, tf.sigmoid(x));
}

interface BlockWeights {
  w1: tf.Tensor4D;
  b1: tf.Tensor1D;
  w2: tf.Tensor4D;
  b2: tf.Tensor1D;
  g1: tf.Tensor1D;
  be1: tf.Tensor1D;
  g2: tf.Tensor1D;
  be2: tf.Tensor1D;
  avg: tf.Tensor2D;
}

function blockWeights(c: number, groups: number): BlockWeights {
  const per = c / groups;
  const avg = new Float32Array(c * c);
  for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) if (Math.floor(i / per) === Math.floor(j / per)) avg[i * c + j] = 1 / per;
  const std = Math.sqrt(2 / (9 * c));
  return {
    w1: tf.randomNormal([3, 3, c, c], 0, std, 'float32', 1),
    b1: tf.zeros([c]),
    w2: tf.randomNormal([3, 3, c, c], 0, std, 'float32', 2),
    b2: tf.zeros([c]),
    g1: tf.ones([c]),
    be1: tf.zeros([c]),
    g2: tf.ones([c]),
    be2: tf.zeros([c]),
    avg: tf.tensor2d(avg, [c, c]),
  };
}

/** x + conv(silu(gn(conv(silu(gn(x)))))) with plain conv2d + bias (see PERFORMANCE.md item 3). */
function unetBlock(x: tf.Tensor4D, p: BlockWeights, w1 = p.w1, w2 = p.w2): tf.Tensor4D {
  let h = silu(groupNorm(x, p.avg, p.g1, p.be1));
  h = tf.add(tf.conv2d(h, w1, 1, 'same'), p.b1);
  h = silu(groupNorm(h, p.avg, p.g2, p.be2));
  h = tf.add(tf.conv2d(h, w2, 1, 'same'), p.b2);
  return tf.add(x, h);
}

interface ConvCase {
  n: number;
  hw: number;
  ci: number;
  co: number;
  stride: number;
}

async function convRows(c: ConvCase, mo: MeasureOptions, stockToo: boolean): Promise<BenchRow[]> {
  const x = tf.randomNormal([c.n, c.hw, c.hw, c.ci], 0, 1, 'float32', 3) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, c.ci, c.co], 0, Math.sqrt(2 / (9 * c.ci)), 'float32', 4) as tf.Tensor4D;
  const oh = Math.ceil(c.hw / c.stride);
  const g = convGflop(c.n, oh, oh, c.ci, c.co, 3);
  const label = `conv3x3${c.stride > 1 ? `/${c.stride}` : ''} ${c.ci}->${c.co} ${c.hw}x${c.hw} b${c.n}`;
  const fwd = () => tf.conv2d(x, w, c.stride, 'same');
  const gradX = tf.grad((xx: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, w, c.stride, 'same').sum());
  const gradXW = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.stride, 'same').sum());
  const rows: BenchRow[] = [];
  try {
    rows.push(row(`${label} fwd`, await measure(fwd, mo), g));
    rows.push(row(`${label} fwd+bwd dx`, await measure(() => gradX(x), mo), 2 * g, 'input gradient (attacks)'));
    rows.push(row(`${label} fwd+bwd dx,dW`, await measure(() => gradXW([x, w]), mo), 3 * g, 'input and weight gradients (training)'));
    if (stockToo) {
      unregisterWasmKernels();
      try {
        rows.push(row(`${label} fwd+bwd dx`, await measure(() => gradX(x), STOCK), 2 * g, 'stock wasm kernels'));
      } finally {
        registerWasmKernels();
      }
    }
  } finally {
    tf.dispose([x, w]);
  }
  return rows;
}

async function unetRows(n: number, hw: number, c: number, mo: MeasureOptions, stockToo: boolean): Promise<BenchRow[]> {
  const p = blockWeights(c, 32);
  const x = tf.randomNormal([n, hw, hw, c], 0, 1, 'float32', 5) as tf.Tensor4D;
  const g = 2 * convGflop(n, hw, hw, c, c, 3);
  const label = `unet block ${c}ch ${hw}x${hw} b${n}`;
  const note = 'GFLOP counts the two convolutions';
  const gradX = tf.grad((xx: tf.Tensor) => unetBlock(xx as tf.Tensor4D, p).sum());
  const gradAll = tf.grads((xx: tf.Tensor, w1: tf.Tensor, w2: tf.Tensor) =>
    unetBlock(xx as tf.Tensor4D, p, w1 as tf.Tensor4D, w2 as tf.Tensor4D).sum(),
  );
  const rows: BenchRow[] = [];
  try {
    rows.push(row(`${label} fwd`, await measure(() => unetBlock(x, p), mo), g, note));
    rows.push(row(`${label} fwd+bwd dx`, await measure(() => gradX(x), mo), 2 * g, note));
    rows.push(row(`${label} fwd+bwd dx,dW`, await measure(() => gradAll([x, p.w1, p.w2]), mo), 3 * g, note));
    if (stockToo) {
      unregisterWasmKernels();
      try {
        rows.push(row(`${label} fwd+bwd dx`, await measure(() => gradX(x), STOCK), 2 * g, 'stock wasm kernels'));
      } finally {
        registerWasmKernels();
      }
    }
  } finally {
    tf.dispose([x, ...(Object.values(p) as tf.Tensor[])]);
  }
  return rows;
}

async function matMulRows(quick: boolean, mo: MeasureOptions, stockToo: boolean): Promise<BenchRow[]> {
  const s = quick ? 512 : 1024;
  const a = tf.randomNormal([s, s], 0, 1, 'float32', 6);
  const b = tf.randomNormal([s, s], 0, 1, 'float32', 7);
  // Attention-like batched product with a transposed operand: [32, 256, 64] x [32, 256, 64]^T.
  const q = tf.randomNormal([32, 256, 64], 0, 1, 'float32', 8);
  const k = tf.randomNormal([32, 256, 64], 0, 1, 'float32', 9);
  const gMM = (2 * s * s * s) / 1e9;
  const gAtt = (2 * 32 * 256 * 256 * 64) / 1e9;
  const attGrad = tf.grads((qq: tf.Tensor, kk: tf.Tensor) => tf.matMul(qq, kk, false, true).sum());
  const rows: BenchRow[] = [];
  try {
    rows.push(row(`matMul ${s}x${s}x${s} fwd`, await measure(() => tf.matMul(a, b), mo), gMM));
    rows.push(row(`matMul ${s}x${s}x${s} transposed a,b`, await measure(() => tf.matMul(a, b, true, true), mo), gMM));
    rows.push(row('batched matMul 32x[256x64 . 64x256] fwd', await measure(() => tf.matMul(q, k, false, true), mo), gAtt));
    rows.push(row('batched matMul 32x[256x64 . 64x256] fwd+bwd', await measure(() => attGrad([q, k]), mo), 3 * gAtt));
    if (stockToo) {
      unregisterWasmKernels();
      try {
        rows.push(
          row(`matMul ${s}x${s}x${s} transposed a,b`, await measure(() => tf.matMul(a, b, true, true), STOCK), gMM, 'stock wasm kernels'),
        );
        rows.push(
          row('batched matMul 32x[256x64 . 64x256] fwd+bwd', await measure(() => attGrad([q, k]), STOCK), 3 * gAtt, 'stock wasm kernels'),
        );
      } finally {
        registerWasmKernels();
      }
    }
  } finally {
    tf.dispose([a, b, q, k]);
  }
  return rows;
}

export const frameworkBench: BenchSuite = {
  name: 'framework',
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    const mo: MeasureOptions = opts.quick ? { reps: 2, warmup: 1 } : { reps: 7, warmup: 2 };
    const stockToo = !opts.quick && activeBackend()?.name === 'wasm' && (activeBackend()?.kernels?.length ?? 0) > 0;
    const rows: BenchRow[] = [];
    rows.push(...(await convRows({ n: 8, hw: 32, ci: 64, co: 64, stride: 1 }, mo, stockToo)));
    rows.push(...(await convRows({ n: 8, hw: 16, ci: 128, co: 128, stride: 1 }, mo, false)));
    rows.push(...(await convRows({ n: 8, hw: 32, ci: 64, co: 128, stride: 2 }, mo, false)));
    rows.push(...(await unetRows(8, opts.quick ? 16 : 32, 64, mo, stockToo)));
    rows.push(...(await matMulRows(opts.quick, mo, stockToo)));
    return rows;
  },
};
