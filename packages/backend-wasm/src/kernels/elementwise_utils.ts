/**
 * Maximum / Minimum of float32: exact loops that propagate NaN (the package's XNNPACK max and min
 * return the other operand for NaN). Sin / Cos of float32: `Math.sin` / `Math.cos` of each element
 * (the package's kernels are inaccurate for |x| < 1e-16, where sin x = 0, and for |x| > 1e10).
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapF32, offsetF32, runStock, wb } from './kernel_utils';
import type { KernelArgs, Shape, TI } from './types';

/** `f` of every element of a float32 tensor, computed in double and rounded once (as the cpu backend). */
export function elementwise(name: string, f: (v: number) => number, args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock(name, args);
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const heap = heapF32(backend);
  const xi = offsetF32(backend, x);
  const oi = offsetF32(backend, out);
  for (let i = 0; i < n; i++) heap[oi + i] = f(heap[xi + i]);
  return out;
}

/** For each element of a tensor of `outShape`, the offset of the element of a broadcast operand of `shape`. */
function broadcastOffsets(shape: Shape, outShape: Shape): Int32Array {
  const rank = outShape.length;
  const n = tf.util.sizeFromShape(outShape);
  const full = [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const strides = new Array<number>(rank);
  for (let d = rank - 1, st = 1; d >= 0; d--) {
    strides[d] = full[d] === 1 ? 0 : st;
    st *= full[d];
  }
  const offs = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      off += strides[d];
      if (++idx[d] < outShape[d]) break;
      off -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return offs;
}

export function minMax(name: 'Maximum' | 'Minimum', args: KernelArgs): TI {
  const backend = wb(args.backend);
  const a = args.inputs.a as TI;
  const b = args.inputs.b as TI;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return runStock(name, args);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = tf.util.sizeFromShape(outShape);
  const na = tf.util.sizeFromShape(a.shape);
  const nb = tf.util.sizeFromShape(b.shape);
  const out = backend.makeOutput(outShape, 'float32');
  const heap = heapF32(backend);
  const ai = offsetF32(backend, a);
  const bi = offsetF32(backend, b);
  const oi = offsetF32(backend, out);
  const f = name === 'Maximum' ? Math.max : Math.min; // NaN in, NaN out (as the cpu backend)
  if (na === n && nb === n) for (let i = 0; i < n; i++) heap[oi + i] = f(heap[ai + i], heap[bi + i]);
  else if (na === n && nb === 1) for (let i = 0, v = heap[bi]; i < n; i++) heap[oi + i] = f(heap[ai + i], v);
  else if (na === 1 && nb === n) for (let i = 0, v = heap[ai]; i < n; i++) heap[oi + i] = f(v, heap[bi + i]);
  else {
    const oa = broadcastOffsets(a.shape, outShape);
    const ob = broadcastOffsets(b.shape, outShape);
    for (let i = 0; i < n; i++) heap[oi + i] = f(heap[ai + oa[i]], heap[bi + ob[i]]);
  }
  return out;
}
