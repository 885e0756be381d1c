/**
 * Slice / SplitV / Concat of 4-byte tensors: heap-to-heap copies of whole contiguous runs
 * (`copyWithin`), instead of the package's per-element JS loops (Slice, SplitV) and per-row
 * `subarray` objects (Concat). Used by every skip connection of a UNet and by its gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { heapU32, offsetF32 } from './kernel_utils';
import type { Shape, TI, WasmBackend } from './types';

/**
 * Copy the box `begin`/`size` of a row-major tensor of `shape` (words from `src`) to `dst`, densely.
 * The innermost axes the box spans fully merge into one contiguous run per outer index.
 */
function copyBox(heap: Uint32Array, src: number, shape: Shape, begin: number[], size: number[], dst: number): void {
  const rank = shape.length;
  if (tf.util.sizeFromShape(size) === 0) return;
  let a = rank - 1; // the innermost axis that is not taken whole
  while (a > 0 && begin[a] === 0 && size[a] === shape[a]) a--;
  const strides = tf.util.computeStrides(shape); // length rank - 1
  const stride = (i: number): number => (i === rank - 1 ? 1 : strides[i]);
  const run = size[a] * stride(a);
  const idx = new Array<number>(a).fill(0); // index over axes 0..a-1 of the box
  let d = dst;
  for (;;) {
    let s = src + begin[a] * stride(a);
    for (let i = 0; i < a; i++) s += (begin[i] + idx[i]) * stride(i);
    heap.copyWithin(d, s, s + run);
    d += run;
    let i = a - 1;
    while (i >= 0 && ++idx[i] === size[i]) idx[i--] = 0;
    if (i < 0) break;
  }
}

/** A new tensor holding the box `begin`/`size` of `x` (4-byte dtype). */
export function sliceBox(backend: WasmBackend, x: TI, begin: number[], size: number[]): TI {
  const out = backend.makeOutput(size, x.dtype);
  copyBox(heapU32(backend), offsetF32(backend, x), x.shape, begin, size, offsetF32(backend, out));
  return out;
}
