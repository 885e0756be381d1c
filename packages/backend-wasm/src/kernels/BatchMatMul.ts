/**
 * `BatchMatMul`: explicit transposes and per-batch 2-D products on zero-copy views, so every product
 * reaches XNNPACK's fully-connected path instead of the naive loop used for transposed or batched
 * operands.
 */
import * as tf from '@tensorflow/tfjs-core';
import { dropView, free, makeView, reshaped, run, runStock, wb } from './kernel_utils';
import type { KernelArgs, Shape, TI, WasmBackend } from './types';

type MatMulFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  ta: number,
  tb: number,
  outId: number,
) => void;

const matMulFns = new WeakMap<object, MatMulFn>();

function matMulFn(backend: WasmBackend): MatMulFn {
  let f = matMulFns.get(backend);
  if (!f) {
    f = backend.wasm.cwrap('BatchMatMul', null, [
      'number',
      'array',
      'number',
      'number',
      'array',
      'number',
      'number',
      'number',
      'number',
    ]) as MatMulFn;
    matMulFns.set(backend, f);
  }
  return f;
}

function shapeBytes(shape: Shape): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** out[1, m, n] = a[1, m, k] x b[1, k, n] through XNNPACK's fully-connected path (b packed as weights). */
function matMul2d(backend: WasmBackend, a: TI, b: TI, out: TI, m: number, k: number, n: number): void {
  const id = (t: TI) => backend.dataIdMap.get(t.dataId).id;
  matMulFn(backend)(id(a), shapeBytes([1, m, k]), 3, id(b), shapeBytes([1, k, n]), 3, 0, 0, id(out));
}

function batchMatMul(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const a = args.inputs.a as TI;
  const b = args.inputs.b as TI;
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return runStock('BatchMatMul', args);
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const ka = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  tf.util.assert(
    ka === kb,
    () =>
      `Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape.join(',')} and ${b.shape.join(',')} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(outer);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const broadcastOk = (batchA === batch || batchA === 1) && (batchB === batch || batchB === 1);
  if (!broadcastOk || m * ka * n === 0) return runStock('BatchMatMul', args);
  const k = ka;
  const temps: TI[] = [];
  try {
    // Bring both operands to [batch, m, k] and [batch, k, n] row-major.
    let A = reshaped(a, transposeA ? [batchA, k, m] : [batchA, m, k]);
    if (transposeA) temps.push((A = run('Transpose', backend, { x: A }, { perm: [0, 2, 1] })));
    let B = reshaped(b, transposeB ? [batchB, n, k] : [batchB, k, n]);
    if (transposeB) temps.push((B = run('Transpose', backend, { x: B }, { perm: [0, 2, 1] })));
    const out = backend.makeOutput([batch, m, n], 'float32');
    if (batchB === 1) {
      // One product: the batch of A folds into its rows.
      matMul2d(backend, A, B, out, batchA * m, k, n);
    } else {
      for (let i = 0; i < batch; i++) {
        const av = makeView(backend, A, batchA === 1 ? 0 : i * m * k, [1, m, k]);
        const bv = makeView(backend, B, i * k * n, [1, k, n]);
        const ov = makeView(backend, out, i * m * n, [1, m, n]);
        try {
          matMul2d(backend, av, bv, ov, m, k, n);
        } finally {
          dropView(backend, av);
          dropView(backend, bv);
          dropView(backend, ov);
        }
      }
    }
    return { dataId: out.dataId, shape: [...outer, m, n], dtype: 'float32' };
  } finally {
    for (const t of temps) free(backend, t);
  }
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: tf.BatchMatMul,
  backendName: 'wasm',
  kernelFunc: batchMatMul as unknown as tf.KernelFunc,
};
