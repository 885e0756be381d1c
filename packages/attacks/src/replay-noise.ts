/**
 * Recording and replaying the noise of purifications: a purification run on a RecordingNoiseSource
 * keeps a copy of every draw it makes; `replay(positions)` then gives a NoiseSource that hands the
 * same draws back for a subset of the recorded rows, so the purification of those rows can be run
 * again (this time under a gradient tape) and sees bitwise the noise it saw the first time, whatever
 * the noise policy (fresh streams advance on every call, so asking the target again would not do).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NoiseRow, NoiseSource, NoiseStream } from '@dbp-bench/framework';

const streamKey = (stream: NoiseStream): string => `${stream.kind}:${stream.step ?? 0}`;

/** Counts the draws of each stream so that repeated draws of one stream get their own keys. */
class Occurrences {
  private readonly seen = new Map<string, number>();
  next(stream: NoiseStream): string {
    const k = streamKey(stream);
    const n = this.seen.get(k) ?? 0;
    this.seen.set(k, n + 1);
    return `${k}#${n}`;
  }
}

/** Wraps a NoiseSource and keeps a copy of every draw (the caller disposes them with `dispose`). */
export class RecordingNoiseSource implements NoiseSource {
  /** Draw key (stream and occurrence) → the tensor drawn, in draw order. */
  readonly draws = new Map<string, tf.Tensor>();
  private readonly occurrences = new Occurrences();
  constructor(private readonly inner: NoiseSource) {}
  get rows(): readonly NoiseRow[] {
    return this.inner.rows;
  }
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    const t = this.inner.normal(stream, shape);
    const key = this.occurrences.next(stream);
    this.draws.get(key)?.dispose();
    this.draws.set(key, tf.keep(t.clone()));
    return t;
  }
  withRows(): NoiseSource {
    throw new Error(`${this.describe()}: a recording noise source is bound to its rows; it cannot be rebound`);
  }
  describe(): string {
    return `recording(${this.inner.describe()})`;
  }
}

/**
 * The noise of purifications recorded in chunks of rows (each chunk one RecordingNoiseSource, in row
 * order), concatenated per draw key.
 */
export class NoiseRecord {
  private readonly draws = new Map<string, tf.Tensor>();
  readonly rows: readonly NoiseRow[];
  constructor(chunks: readonly RecordingNoiseSource[]) {
    this.rows = chunks.flatMap((c) => c.rows);
    const keys = chunks.length > 0 ? [...chunks[0].draws.keys()] : [];
    for (const c of chunks) {
      if (c.draws.size !== keys.length || keys.some((k) => !c.draws.has(k))) {
        throw new Error('NoiseRecord: the recorded chunks drew different noise streams');
      }
    }
    for (const k of keys) {
      const parts = chunks.map((c) => c.draws.get(k) as tf.Tensor);
      this.draws.set(k, parts.length === 1 ? parts[0].clone() : tf.concat(parts, 0));
    }
  }
  /** A NoiseSource handing back the recorded draws of rows `positions` (indices into `rows`). */
  replay(positions: readonly number[]): NoiseSource {
    for (const p of positions) {
      if (!Number.isInteger(p) || p < 0 || p >= this.rows.length) throw new RangeError(`NoiseRecord.replay: no recorded row ${p}`);
    }
    return new ReplayNoiseSource(
      this.draws,
      positions,
      positions.map((p) => this.rows[p]),
    );
  }
  dispose(): void {
    for (const t of this.draws.values()) t.dispose();
    this.draws.clear();
  }
}

class ReplayNoiseSource implements NoiseSource {
  private readonly occurrences = new Occurrences();
  constructor(
    private readonly draws: ReadonlyMap<string, tf.Tensor>,
    private readonly positions: readonly number[],
    readonly rows: readonly NoiseRow[],
  ) {}
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    const key = this.occurrences.next(stream);
    const t = this.draws.get(key);
    if (!t) throw new Error(`${this.describe()}: the replayed purification asked for draw ${key}, which the recorded one never made`);
    if (shape[0] !== this.rows.length || shape.slice(1).join(',') !== t.shape.slice(1).join(',')) {
      throw new Error(`${this.describe()}: draw ${key} asked with shape [${shape.join(',')}], recorded [${t.shape.join(',')}]`);
    }
    return tf.tidy(() => tf.gather(t, tf.tensor1d(this.positions as number[], 'int32')));
  }
  withRows(): NoiseSource {
    throw new Error(`${this.describe()}: a replaying noise source is bound to its rows; it cannot be rebound`);
  }
  describe(): string {
    return `replay(${this.rows.length} recorded rows)`;
  }
}
