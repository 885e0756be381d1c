/**
 * Which images a run uses: the subset spec of the run config turned into an explicit index list,
 * a hash of that list for provenance, and batching over it.
 */
import { ConfigValidationError, SeededRng, sha256, type Batch, type Dataset, type SubsetSpec } from '@dbp-bench/framework';

/**
 * The dataset indices a subset spec selects, in evaluation order.
 *
 * - `first`: `offset, offset+1, ..., offset+n-1` (the ADDT protocol is `{kind:'first', n:1024}` on the
 *   CIFAR-10 test split). The range must fit in the dataset.
 * - `indices`: the list as given; every index must be an integer in [0, size), no duplicates.
 * - `random`: `n` distinct indices drawn without replacement by a partial Fisher–Yates shuffle driven
 *   by `SeededRng(seed, 'subset')`, in draw order (so the draw for n is a prefix of the draw for n' > n).
 * - `all`: `0 .. size-1`.
 *
 * Throws ConfigValidationError naming the dataset and the offending field.
 */
export function selectSubset(dataset: Dataset, spec: SubsetSpec | Readonly<SubsetSpec>): number[] {
  const size = dataset.info.size;
  const what = `subset of dataset ${dataset.info.id}/${dataset.info.split} (${size} images)`;
  switch (spec.kind) {
    case 'all':
      return Array.from({ length: size }, (_, i) => i);
    case 'first': {
      const offset = spec.offset ?? 0;
      if (!Number.isInteger(spec.n) || spec.n < 1) throw new ConfigValidationError(what, [`$.n: must be a positive integer, got ${spec.n}`]);
      if (!Number.isInteger(offset) || offset < 0) throw new ConfigValidationError(what, [`$.offset: must be a non-negative integer, got ${offset}`]);
      if (offset + spec.n > size) {
        throw new ConfigValidationError(what, [`$.n: the first ${spec.n} images from offset ${offset} need indices up to ${offset + spec.n - 1}, but the dataset has ${size} images`]);
      }
      return Array.from({ length: spec.n }, (_, i) => offset + i);
    }
    case 'indices': {
      const problems: string[] = [];
      const seen = new Set<number>();
      spec.indices.forEach((v, i) => {
        if (!Number.isInteger(v) || v < 0 || v >= size) problems.push(`$.indices[${i}]: ${v} is out of range; expected an integer in [0, ${size})`);
        else if (seen.has(v)) problems.push(`$.indices[${i}]: ${v} appears more than once`);
        seen.add(v);
      });
      if (spec.indices.length === 0) problems.push('$.indices: must not be empty');
      if (problems.length) throw new ConfigValidationError(what, problems.slice(0, 20).concat(problems.length > 20 ? [`... and ${problems.length - 20} more`] : []));
      return spec.indices.slice();
    }
    case 'random': {
      if (!Number.isInteger(spec.n) || spec.n < 1) throw new ConfigValidationError(what, [`$.n: must be a positive integer, got ${spec.n}`]);
      if (spec.n > size) throw new ConfigValidationError(what, [`$.n: cannot draw ${spec.n} distinct images from ${size}`]);
      if (!Number.isInteger(spec.seed)) throw new ConfigValidationError(what, [`$.seed: must be an integer, got ${spec.seed}`]);
      const rng = new SeededRng(spec.seed, 'subset');
      // Sparse Fisher–Yates: swapped[k] holds the value at position k when it is not k.
      const swapped = new Map<number, number>();
      const out: number[] = [];
      for (let i = 0; i < spec.n; i++) {
        const j = i + rng.int(size - i);
        const vi = swapped.get(i) ?? i;
        const vj = swapped.get(j) ?? j;
        out.push(vj);
        swapped.set(j, vi);
        swapped.delete(i);
      }
      return out;
    }
    default:
      throw new ConfigValidationError(what, [`$.kind: must be one of "first", "indices", "random", "all", got ${JSON.stringify((spec as { kind: unknown }).kind)}`]);
  }
}

/**
 * Provenance hash of an index list: the first 16 hex digits of sha256 of the indices written in
 * decimal, joined by ',' (no spaces, no brackets). Order matters. E.g. `[0,1,2]` -> sha256("0,1,2").
 */
export function subsetHash(indices: readonly number[]): string {
  return sha256(indices.join(',')).slice(0, 16);
}

/** What a result records about its images: the spec, the count, the hash and the indices themselves. */
export interface SubsetRecord {
  readonly dataset: string;
  readonly split: string;
  readonly spec: SubsetSpec | Readonly<SubsetSpec>;
  readonly count: number;
  readonly hash: string;
  readonly indices: readonly number[];
}

/** Select a subset and describe it for provenance. */
export function subsetRecord(dataset: Dataset, spec: SubsetSpec | Readonly<SubsetSpec>): SubsetRecord {
  const indices = selectSubset(dataset, spec);
  return { dataset: dataset.info.id, split: dataset.info.split, spec, count: indices.length, hash: subsetHash(indices), indices };
}

/**
 * Batches of `batchSize` (the last may be smaller) over `indices`, in order. The caller owns each
 * batch's `images` tensor and must dispose it.
 */
export async function* iterateBatches(dataset: Dataset, indices: readonly number[], batchSize: number): AsyncGenerator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ConfigValidationError(`batching of dataset ${dataset.info.id}`, [`$.batchSize: must be a positive integer, got ${batchSize}`]);
  }
  for (let i = 0; i < indices.length; i += batchSize) yield dataset.get(indices.slice(i, i + batchSize));
}
