import type { TorchReference } from './reference';

/** A benchmark suite contributes rows to the `npm run bench` table. */
export interface BenchRow {
  suite: string;
  name: string;
  /** Seconds per iteration (median). */
  seconds: number;
  gflops?: number;
  /** GFLOP/s. */
  gflopsPerSecond?: number;
  /** Peak bytes (tf.memory or RSS), when measured. */
  peakBytes?: number;
  /** Resident set size of the process after the measurement, when measured. */
  rssBytes?: number;
  note?: string;
}
export interface BenchOptions {
  /** Quick mode: fewer repetitions, smaller sizes. */
  quick: boolean;
  /** The PyTorch CPU numbers the ratios in the notes divide by (default: the recorded ones). */
  reference?: TorchReference;
  /** A python with torch: the defenses suite then times PyTorch and dbp-bench alternately (paired rounds). */
  torchPython?: string;
  /** Only suites whose name contains this. */
  filter?: string;
}
export interface BenchSuite {
  name: string;
  run(opts: BenchOptions): Promise<BenchRow[]>;
}
