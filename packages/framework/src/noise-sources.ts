/**
 * The tensor NoiseSources (contracts.ts) on the counter-based generator of @dbp-bench/core (rng.ts):
 * keyed, fresh and mixed noise. A draw depends only on (seed, stream, step, sample index, EoT index,
 * draw generation), never on the batch it is computed in.
 */
import * as tf from '@tensorflow/tfjs-core';
import { noiseStreamKey, philoxNormals, type NoiseRow, type NoiseSource, type NoiseStream } from '@dbp-bench/core';

function checkShape(src: NoiseSource, shape: readonly number[]): number {
  if (shape.length === 0 || shape[0] !== src.rows.length) {
    throw new Error(
      `${src.describe()}: asked for noise of shape [${shape.join(',')}] but the source is bound to ${src.rows.length} rows; shape[0] must equal the row count`,
    );
  }
  return shape.slice(1).reduce((a, b) => a * b, 1);
}

/**
 * Noise keyed by (seed, stream, step, sample, EoT index, generation). Two calls with the same stream
 * return the same tensor: this is the DW-box "known noise" and the replay for resume and shards.
 */
export class KeyedNoiseSource implements NoiseSource {
  constructor(
    readonly seed: number,
    readonly rows: readonly NoiseRow[],
    /** Extra key word: 0 for DW-box; a fresh source sets a per-call generation here. */
    readonly generation = 0,
  ) {}
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    return drawRows(this.seed, stream, this.rows, shape, () => this.generation, this);
  }
  withRows(rows: readonly NoiseRow[]): KeyedNoiseSource {
    return new KeyedNoiseSource(this.seed, rows, this.generation);
  }
  describe(): string {
    return `keyed(seed=${this.seed})`;
  }
}

/** Fill one tensor row by row; row r uses generation gen(r). */
function drawRows(
  seed: number,
  stream: NoiseStream,
  rows: readonly NoiseRow[],
  shape: readonly number[],
  gen: (row: NoiseRow) => number,
  src: NoiseSource,
): tf.Tensor {
  const per = checkShape(src, shape);
  const [k0, k1] = noiseStreamKey(seed, stream);
  const data = new Float32Array(per * rows.length);
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    philoxNormals(data.subarray(r * per, (r + 1) * per), row.sample >>> 0, row.eot >>> 0, gen(row) >>> 0, k0, k1);
  }
  return tf.tensor(data, shape as number[], 'float32');
}

/**
 * Fresh noise: a new draw on every call. It is still seeded and per sample: each (stream, sample,
 * EoT index) has its own draw counter, so the n-th draw of a sample's stream is the same whatever
 * batch or shard the sample is in. A whole run is reproducible and shard-invariant, while no two
 * purifications within a run share noise.
 */
export class FreshNoiseSource implements NoiseSource {
  private readonly counters: Map<string, number>;
  constructor(
    readonly seed: number,
    readonly rows: readonly NoiseRow[],
    counters?: Map<string, number>,
  ) {
    this.counters = counters ?? new Map<string, number>();
  }
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    const prefix = `${stream.kind}:${stream.step ?? 0}:`;
    // Generation 0 is reserved for keyed draws, so fresh draws never coincide with DW-box noise.
    return drawRows(
      this.seed,
      stream,
      this.rows,
      shape,
      (row) => {
        const key = `${prefix}${row.sample}:${row.eot}`;
        const n = (this.counters.get(key) ?? 0) + 1;
        this.counters.set(key, n);
        return n;
      },
      this,
    );
  }
  withRows(rows: readonly NoiseRow[]): FreshNoiseSource {
    return new FreshNoiseSource(this.seed, rows, this.counters);
  }
  describe(): string {
    return `fresh(seed=${this.seed})`;
  }
}
