/**
 * Mean / Sum over a contiguous block of axes with kept axes after it (the NHWC spatial reductions of
 * group and batch norm, and their gradients): one XNNPACK average pooling, multi-threaded, instead
 * of the package's transpose of the whole tensor followed by a reduction of its last axis.
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapF32, offsetF32, reshaped, run, runStock, wb } from './kernel_utils';
import type { KernelArgs, Shape, TI } from './types';

/** [outer, r, inner] when `axes` are consecutive and leave at least 2 kept elements after them; else undefined. */
function reductionBlock(
  shape: Shape,
  axisAttr: number | number[],
): { outer: number; r: number; inner: number; axes: number[] } | undefined {
  const axes = tf.util.parseAxisParam(axisAttr, shape).sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
  const a0 = axes[0];
  const a1 = axes[axes.length - 1];
  const outer = tf.util.sizeFromShape(shape.slice(0, a0));
  const r = tf.util.sizeFromShape(shape.slice(a0, a1 + 1));
  const inner = tf.util.sizeFromShape(shape.slice(a1 + 1));
  if (inner < 2 || r < 2 || outer === 0) return undefined;
  return { outer, r, inner, axes };
}

function reduceOutShape(shape: Shape, axes: number[], keepDims: boolean): Shape {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** The smallest normal float32. */
const MIN_NORMAL_F32 = 2 ** -126;

export function meanOrSum(name: 'Mean' | 'Sum', args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const { axis, keepDims } = args.attrs as unknown as tf.MeanAttrs;
  const block = x.dtype === 'float32' ? reductionBlock(x.shape, axis) : undefined;
  if (!block) return runStock(name, args);
  const { outer, r, inner, axes } = block;
  // [outer, r, 1, inner] with an r x 1 window: the mean over the block for every (outer, inner).
  const pooled = run(
    'AvgPool',
    backend,
    { x: reshaped(x, [outer, r, 1, inner]) },
    { filterSize: [r, 1], strides: [r, 1], pad: 'valid', dimRoundingMode: undefined },
  );
  const heap = heapF32(backend);
  const o = offsetF32(backend, pooled);
  const xo = offsetF32(backend, x);
  for (let i = 0; i < outer * inner; i++) {
    const avg = heap[o + i];
    // Recomputed exactly, as the cpu backend sums (Mean: the sum of x / r, in double): a non-finite
    // average (the pooling clamps its output, which turns NaN into -Inf) and one below the smallest
    // normal float32 (the pooling scales by 1/r first, and a subnormal keeps few bits).
    if (Number.isFinite(avg) && Math.abs(avg) >= MIN_NORMAL_F32) {
      if (name === 'Sum') heap[o + i] = avg * r;
      continue;
    }
    const base = xo + Math.floor(i / inner) * r * inner + (i % inner);
    let acc = 0;
    for (let k = 0; k < r; k++) acc += name === 'Mean' ? Math.fround(heap[base + k * inner] / r) : heap[base + k * inner];
    heap[o + i] = acc;
  }
  return { dataId: pooled.dataId, shape: reduceOutShape(x.shape, axes, keepDims), dtype: 'float32' };
}
