/**
 * RBGM — Rank-Based Gaussian Mapping (ADDT, ALGORITHMS.md §8.2).
 *
 * For each (image, channel) row of G (H*W values), draw a fresh Gaussian sample of the same size,
 * sort it, and give the element of G with rank k the k-th smallest sample value:
 *
 *   rows = G.reshape(B*C, H*W);  z = sort(randn(B*C, H*W), dim=1)
 *   r = argsort(argsort(rows, dim=1), dim=1);  out = gather(z, 1, r)
 *
 * The output is an exact permutation of Gaussian samples (so it has the statistics of N(0, I)) that
 * keeps the order of G; it is invariant to any strictly increasing transform of G. Ties in G are
 * broken by position (a stable sort), which the reference's torch.argsort leaves unspecified.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeMismatchError } from '@dbp-bench/framework';

/**
 * Rank-match the rows of `values` (row r: elements r*rowLen .. (r+1)*rowLen-1 after `index`)
 * to the sorted rows of `sample`, in place into `out`. `index(row, k)` gives the flat offset of the
 * k-th element of a row (so NHWC rows can be read without a transpose).
 */
function rankMatch(
  values: Float32Array,
  sample: Float32Array,
  out: Float32Array,
  rows: number,
  rowLen: number,
  index: (row: number, k: number) => number,
): void {
  const v = new Float64Array(rowLen);
  const z = new Float32Array(rowLen);
  const order = new Uint32Array(rowLen);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rowLen; k++) {
      const i = index(r, k);
      v[k] = values[i];
      z[k] = sample[i];
      order[k] = k;
    }
    z.sort(); // numeric ascending (typed-array sort)
    // Stable argsort of the row (typed-array sort with a comparator is stable in V8).
    order.sort((a, b) => v[a] - v[b] || a - b);
    for (let k = 0; k < rowLen; k++) out[index(r, order[k])] = z[k];
  }
}

/**
 * RBGM of an NHWC tensor: ranks are taken within each (image, channel) over H*W positions.
 * `sample` (same shape, standard normal) is the Gaussian draw; when omitted a fresh unseeded
 * tf.randomNormal is used. Returns a new tensor; inputs are not disposed. Not differentiable (it is
 * applied to accumulated gradients, outside any tape).
 */
export function rbgm(g: tf.Tensor4D, sample?: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = g.shape;
  if (sample && (sample.shape.length !== 4 || sample.shape.some((d, i) => d !== g.shape[i]))) {
    throw new ShapeMismatchError(`rbgm: sample has shape [${sample.shape.join(',')}], G has [${g.shape.join(',')}]; they must be equal`);
  }
  const s = sample ?? (tf.randomNormal(g.shape, 0, 1, 'float32') as tf.Tensor4D);
  try {
    const values = g.dataSync() as Float32Array;
    const z = s.dataSync() as Float32Array;
    const out = new Float32Array(values.length);
    const hw = h * w;
    // row r = (image n, channel ch); element k = pixel k of that channel: NHWC offset (n*hw + k)*c + ch
    rankMatch(values, z, out, b * c, hw, (r, k) => (Math.floor(r / c) * hw + k) * c + (r % c));
    return tf.tensor4d(out, [b, h, w, c]);
  } finally {
    if (!sample) s.dispose();
  }
}

/** RBGM on plain rows (for tests and other layouts): each row of `values` is mapped independently. */
export function rbgmRows(values: Float32Array, sample: Float32Array, rowLen: number): Float32Array {
  if (values.length !== sample.length || values.length % rowLen !== 0) {
    throw new ShapeMismatchError(`rbgmRows: ${values.length} values and ${sample.length} samples do not form rows of ${rowLen}`);
  }
  const out = new Float32Array(values.length);
  rankMatch(values, sample, out, values.length / rowLen, rowLen, (r, k) => r * rowLen + k);
  return out;
}
