/** Small dense linear algebra for the analyses: PCA by power iteration, cosine similarity. */
import { SeededRng } from '@dbp-bench/framework';

export type Vec = Float64Array;

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm2(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = norm2(a);
  const nb = norm2(b);
  return na === 0 || nb === 0 ? 0 : dot(a, b) / (na * nb);
}

/** Mean cosine over all unordered pairs (null with fewer than two vectors). */
export function meanPairwiseCosine(vs: readonly ArrayLike<number>[]): number | null {
  if (vs.length < 2) return null;
  let s = 0;
  let n = 0;
  for (let i = 0; i < vs.length; i++) {
    for (let j = i + 1; j < vs.length; j++) {
      s += cosine(vs[i], vs[j]);
      n++;
    }
  }
  return s / n;
}

export interface PcaResult {
  readonly mean: Vec;
  /** Unit-norm principal directions (a zero vector when the data has no variance left). */
  readonly components: Vec[];
  /** Projection of every input row on each component (rows × components). */
  readonly projections: number[][];
  /** Fraction of the total variance along each component. */
  readonly explained: number[];
  /** Power iterations used per component. */
  readonly iterations: number[];
}

/**
 * PCA of the rows of `data` (each of dimension D) by power iteration on the covariance (applied as
 * Xcᵀ(Xc v), never formed), with deflation by Gram–Schmidt against earlier components. Deterministic:
 * the start vector comes from SeededRng(seed).
 */
export function pca(
  data: readonly ArrayLike<number>[],
  nComponents = 2,
  options: { maxIter?: number; tol?: number; seed?: number } = {},
): PcaResult {
  const P = data.length;
  if (P === 0) throw new RangeError('pca: no data rows');
  const D = data[0].length;
  const maxIter = options.maxIter ?? 500;
  const tol = options.tol ?? 1e-10;
  const mean = new Float64Array(D);
  for (const row of data) for (let j = 0; j < D; j++) mean[j] += row[j] / P;
  const xc = data.map((row) => Float64Array.from(row, (v, j) => v - mean[j]));
  const total = xc.reduce((a, r) => a + dot(r, r), 0);
  const rng = new SeededRng(options.seed ?? 0, 'pca');
  const components: Vec[] = [];
  const explained: number[] = [];
  const iterations: number[] = [];
  const applyCov = (v: Vec): Vec => {
    const out = new Float64Array(D);
    for (const r of xc) {
      const s = dot(r, v);
      if (s !== 0) for (let j = 0; j < D; j++) out[j] += s * r[j];
    }
    return out;
  };
  const deflate = (v: Vec): void => {
    for (const c of components) {
      const s = dot(v, c);
      for (let j = 0; j < D; j++) v[j] -= s * c[j];
    }
  };
  for (let k = 0; k < nComponents; k++) {
    let v: Vec = Float64Array.from({ length: D }, () => rng.normal());
    deflate(v);
    let n = norm2(v);
    for (let j = 0; j < D; j++) v[j] /= n || 1;
    let it = 0;
    let ok = total > 0;
    for (; ok && it < maxIter; it++) {
      const w = applyCov(v);
      deflate(w);
      n = norm2(w);
      if (n < 1e-300 || n <= 1e-12 * total) {
        ok = false;
        break;
      }
      for (let j = 0; j < D; j++) w[j] /= n;
      // Fix the sign so the iteration can converge (the first non-negligible coordinate positive).
      const delta = Math.min(norm2(w.map((x, j) => x - v[j])), norm2(w.map((x, j) => x + v[j])));
      v = w;
      if (delta < tol) {
        it++;
        break;
      }
    }
    if (!ok) v = new Float64Array(D);
    else {
      // Canonical sign: the largest-magnitude coordinate is positive.
      let arg = 0;
      for (let j = 1; j < D; j++) if (Math.abs(v[j]) > Math.abs(v[arg])) arg = j;
      if (v[arg] < 0) for (let j = 0; j < D; j++) v[j] = -v[j];
    }
    components.push(v);
    iterations.push(it);
    const varK = xc.reduce((a, r) => a + dot(r, v) ** 2, 0);
    explained.push(total > 0 ? varK / total : 0);
  }
  const projections = xc.map((r) => components.map((c) => dot(r, c)));
  return { mean, components, projections, explained, iterations };
}
