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
 * - `stratified`: `n` distinct indices, as equal per class as possible (see `stratifiedIndices`).
 *   Needs the label of every index: `labels` when given, else the dataset's `labelsSync` (every
 *   built-in dataset has it); for a dataset without it, use `selectSubsetAsync`.
 * - `all`: `0 .. size-1`.
 *
 * Throws ConfigValidationError naming the dataset and the offending field.
 */
export function selectSubset(dataset: Dataset, spec: SubsetSpec | Readonly<SubsetSpec>, labels?: ArrayLike<number>): number[] {
  const size = dataset.info.size;
  const what = `subset of dataset ${dataset.info.id}/${dataset.info.split} (${size} images)`;
  switch (spec.kind) {
    case 'all':
      return Array.from({ length: size }, (_, i) => i);
    case 'first': {
      const offset = spec.offset ?? 0;
      if (!Number.isInteger(spec.n) || spec.n < 1)
        throw new ConfigValidationError(what, [`$.n: must be a positive integer, got ${spec.n}`]);
      if (!Number.isInteger(offset) || offset < 0)
        throw new ConfigValidationError(what, [`$.offset: must be a non-negative integer, got ${offset}`]);
      if (offset + spec.n > size) {
        throw new ConfigValidationError(what, [
          `$.n: the first ${spec.n} images from offset ${offset} need indices up to ${offset + spec.n - 1}, but the dataset has ${size} images`,
        ]);
      }
      return Array.from({ length: spec.n }, (_, i) => offset + i);
    }
    case 'indices': {
      const problems: string[] = [];
      const seen = new Set<number>();
      spec.indices.forEach((v, i) => {
        if (!Number.isInteger(v) || v < 0 || v >= size)
          problems.push(`$.indices[${i}]: ${v} is out of range; expected an integer in [0, ${size})`);
        else if (seen.has(v)) problems.push(`$.indices[${i}]: ${v} appears more than once`);
        seen.add(v);
      });
      if (spec.indices.length === 0) problems.push('$.indices: must not be empty');
      if (problems.length)
        throw new ConfigValidationError(
          what,
          problems.slice(0, 20).concat(problems.length > 20 ? [`... and ${problems.length - 20} more`] : []),
        );
      return spec.indices.slice();
    }
    case 'random':
    case 'stratified': {
      if (!Number.isInteger(spec.n) || spec.n < 1)
        throw new ConfigValidationError(what, [`$.n: must be a positive integer, got ${spec.n}`]);
      if (spec.n > size) throw new ConfigValidationError(what, [`$.n: cannot draw ${spec.n} distinct images from ${size}`]);
      if (!Number.isInteger(spec.seed)) throw new ConfigValidationError(what, [`$.seed: must be an integer, got ${spec.seed}`]);
      if (spec.kind === 'random') return seededDraw(new SeededRng(spec.seed, 'subset'), size, spec.n);
      const all = labels ?? dataset.labelsSync?.(Array.from({ length: size }, (_, i) => i));
      if (!all) {
        throw new ConfigValidationError(what, [
          `$.kind: 'stratified' needs the label of every image, and dataset ${dataset.info.id} gives labels only asynchronously: give the dataset plugin a labelsSync() method (as every built-in one has), or select in code with selectSubsetAsync`,
        ]);
      }
      if (all.length !== size) throw new ConfigValidationError(what, [`$.kind: 'stratified' got ${all.length} labels for ${size} images`]);
      return stratifiedIndices(all, spec.n, spec.seed);
    }
    default:
      throw new ConfigValidationError(what, [
        `$.kind: must be one of "first", "indices", "random", "stratified", "all", got ${JSON.stringify((spec as { kind: unknown }).kind)}`,
      ]);
  }
}

/** `selectSubset` for any dataset: reads the labels asynchronously when the kind needs them (`stratified`). */
export async function selectSubsetAsync(dataset: Dataset, spec: SubsetSpec | Readonly<SubsetSpec>): Promise<number[]> {
  if (spec.kind !== 'stratified' || dataset.labelsSync) return selectSubset(dataset, spec);
  return selectSubset(dataset, spec, await dataset.labels(Array.from({ length: dataset.info.size }, (_, i) => i)));
}

/**
 * `k` distinct integers of [0, size) by a partial (sparse) Fisher–Yates shuffle, in draw order: the
 * draw for k is a prefix of the draw for k' > k.
 */
function seededDraw(rng: SeededRng, size: number, k: number): number[] {
  // swapped[p] holds the value at position p when it is not p.
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(size - i);
    const vi = swapped.get(i) ?? i;
    const vj = swapped.get(j) ?? j;
    out.push(vj);
    swapped.set(j, vi);
    swapped.delete(i);
  }
  return out;
}

/**
 * A stratified draw of `n` distinct indices (`n` at most `labels.length`), deterministic in `seed`:
 *
 * 1. the indices are grouped by label (the classes are the labels that occur);
 * 2. each class's indices are shuffled by a partial Fisher–Yates driven by
 *    `SeededRng(seed, 'subset-stratified/<label>')` (a class's order does not depend on the others);
 * 3. the classes are put in the order of a Fisher–Yates shuffle by `SeededRng(seed, 'subset-stratified')`;
 * 4. the indices are taken round-robin: the first of each class in that order, then the second of
 *    each, ... (a class whose images have run out is skipped), until n are taken.
 *
 * So every class gets `floor(n / K)` or `floor(n / K) + 1` images (K classes; the extra ones go to the
 * first `n mod K` classes of the seeded order) unless it has fewer, in which case it gives all it has
 * and the others share the rest equally; with n >= K every class is present. The result is in
 * round-robin order (every prefix is as balanced as it can be), and the draw for n is a prefix of the
 * draw for n' > n.
 */
export function stratifiedIndices(labels: ArrayLike<number>, n: number, seed: number): number[] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const classes = new SeededRng(seed, 'subset-stratified').shuffle([...byClass.keys()].sort((a, b) => a - b));
  const draws = classes.map((c) => {
    const members = byClass.get(c)!;
    return seededDraw(new SeededRng(seed, `subset-stratified/${c}`), members.length, Math.min(members.length, n)).map((k) => members[k]);
  });
  const out: number[] = [];
  const target = Math.min(n, labels.length);
  for (let round = 0; out.length < target; round++) {
    for (const d of draws) {
      if (round < d.length) out.push(d[round]);
      if (out.length === target) break;
    }
  }
  return out;
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
    throw new ConfigValidationError(`batching of dataset ${dataset.info.id}`, [
      `$.batchSize: must be a positive integer, got ${batchSize}`,
    ]);
  }
  for (let i = 0; i < indices.length; i += batchSize) yield dataset.get(indices.slice(i, i + batchSize));
}
