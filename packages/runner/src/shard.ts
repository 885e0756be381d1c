/**
 * Shards: which slice of a run this process computes. A shard is a contiguous range of whole batches,
 * so every batch has the same samples whether the run is sharded or not (and per-sample results do
 * not depend on the sharding).
 */
import { ConfigValidationError } from '@dbp-bench/framework';

export interface ShardSpec {
  /** 0-based shard index. */
  readonly index: number;
  readonly count: number;
  /** Where the spec came from (option or environment variable), for logs. */
  readonly source: string;
}

export const UNSHARDED: ShardSpec = Object.freeze({ index: 0, count: 1, source: 'default' });

function parseInt10(s: string | undefined): number | undefined {
  if (s === undefined || s.trim() === '') return undefined;
  return /^\d+$/.test(s.trim()) ? Number(s.trim()) : NaN;
}

function check(index: number, count: number, source: string): ShardSpec {
  if (!Number.isInteger(count) || count < 1)
    throw new ConfigValidationError(source, [`shard count must be a positive integer, got ${count}`]);
  if (!Number.isInteger(index) || index < 0 || index >= count)
    throw new ConfigValidationError(source, [`shard index must be an integer in [0, ${count - 1}], got ${index}`]);
  return { index, count, source };
}

/** Parse `i/n` (0-based i). */
export function parseShard(text: string, source = '--shard'): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ConfigValidationError(source, [`expected i/n with 0 <= i < n (e.g. 0/4), got '${text}'`]);
  return check(Number(m[1]), Number(m[2]), source);
}

/**
 * The shard of this process. In order of precedence:
 * 1. `--shard i/n` (the `option` argument);
 * 2. `DBP_SHARD=i/n`;
 * 3. a SLURM job array: `SLURM_ARRAY_TASK_ID` minus `SLURM_ARRAY_TASK_MIN` (default 0) of
 *    `SLURM_ARRAY_TASK_COUNT` tasks;
 * 4. a Kubernetes Indexed Job: `JOB_COMPLETION_INDEX` of `DBP_SHARD_COUNT` (or `JOB_COMPLETIONS`)
 *    shards — Kubernetes does not export the completion count, so set one of these in the pod spec;
 * 5. otherwise unsharded (0/1).
 * `--shard-count` / `DBP_SHARD_COUNT` override the count read from SLURM.
 */
export function resolveShard(option?: string, env: NodeJS.ProcessEnv = process.env, countOption?: number): ShardSpec {
  if (option !== undefined) return parseShard(option, '--shard');
  if (env.DBP_SHARD) return parseShard(env.DBP_SHARD, 'DBP_SHARD');
  const countOverride = countOption ?? parseInt10(env.DBP_SHARD_COUNT);
  const slurmId = parseInt10(env.SLURM_ARRAY_TASK_ID);
  if (slurmId !== undefined) {
    const min = parseInt10(env.SLURM_ARRAY_TASK_MIN) ?? 0;
    const count = countOverride ?? parseInt10(env.SLURM_ARRAY_TASK_COUNT);
    if (count === undefined)
      throw new ConfigValidationError('SLURM_ARRAY_TASK_ID', [
        'is set but SLURM_ARRAY_TASK_COUNT is not; pass --shard-count or set DBP_SHARD_COUNT',
      ]);
    return check(slurmId - min, count, `SLURM_ARRAY_TASK_ID=${env.SLURM_ARRAY_TASK_ID} (min ${min}) of SLURM_ARRAY_TASK_COUNT=${count}`);
  }
  const k8s = parseInt10(env.JOB_COMPLETION_INDEX);
  if (k8s !== undefined) {
    const count = countOverride ?? parseInt10(env.JOB_COMPLETIONS);
    if (count === undefined)
      throw new ConfigValidationError('JOB_COMPLETION_INDEX', [
        "is set but the shard count is unknown; set DBP_SHARD_COUNT (or JOB_COMPLETIONS) to the Job's completions, or pass --shard-count",
      ]);
    return check(k8s, count, `JOB_COMPLETION_INDEX=${k8s} of ${count}`);
  }
  return UNSHARDED;
}

/** Batches [start, end) of shard `index` out of `count` over `batches` batches (contiguous, balanced). */
export function shardBatches(batches: number, shard: Pick<ShardSpec, 'index' | 'count'>): { start: number; end: number } {
  return { start: Math.floor((shard.index * batches) / shard.count), end: Math.floor(((shard.index + 1) * batches) / shard.count) };
}

/** `journal.jsonl` or `journal.shard-2-of-8.jsonl` (and likewise for meta files). */
export function shardSuffix(shard: Pick<ShardSpec, 'index' | 'count'>): string {
  return shard.count === 1 ? '' : `.shard-${shard.index}-of-${shard.count}`;
}
