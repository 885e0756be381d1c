/**
 * Finalisation: from a finished run (run.json + per-sample records + shard metas) to a leaderboard
 * entry and its per-sample results file, written atomically. Shared by `run` (unsharded) and `merge`
 * (shards), so both give the same entry apart from provenance.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, MissingFileError, sha256, writeFileAtomic, type DeepReadonly } from '@dbp-bench/framework';
import {
  entryPath,
  formatEps,
  validateEntry,
  writeEntry,
  type LeaderboardEntry,
  type ProtocolAttack,
  type SanityFlag,
} from '@dbp-bench/leaderboard';
import type { RunConfig } from './config';
import { aggregate, type AggregatedResults, type SampleRecord } from './records';
import type { RunIdentity } from './identity';
import type { RunProvenance } from './provenance';
import { voteSize } from './vote';

/** Everything about a run that does not depend on the shard: written to `<run dir>/run.json`. */
export interface RunInfo {
  version: 1;
  run: string;
  config: DeepReadonly<RunConfig>;
  /** The config file, relative to the run directory (an absolute path in runs of older versions). */
  configFile?: string;
  dataset: { id: string; split: string; size: number; n: number; indicesHash: string; indices: number[] };
  batchSize: number;
  batches: number;
  classifier: { weights: string; sha256: string | null; architecture: string | null };
  defense: {
    id: string;
    options: Record<string, unknown>;
    capabilities: { stochastic: boolean; streams: string[]; gradientModes: string[]; networkCalls: number };
  };
  attacks: ProtocolAttack[];
  threat: { norm: 'linf' | 'l2' | 'none'; eps: number | null; id: string };
  sanity: { ran: boolean; randomized: boolean | null; flags: SanityFlag[] };
  seeds: Record<string, number>;
  /** Hashes of the weights files and serving modules (identity.ts); absent in run.json of older versions. */
  identity?: RunIdentity;
}

/** Per-shard process information: `<run dir>/meta[.shard-i-of-n].json`. */
export interface ShardMeta {
  version: 1;
  run: string;
  shard: { index: number; count: number };
  startTime: string;
  endTime: string | null;
  complete: boolean;
  sessions: number;
  samples: { done: number; total: number };
  provenance: RunProvenance;
}

export const RUN_INFO_FILE = 'run.json';

export function readRunInfo(runDir: string): RunInfo {
  const file = path.join(runDir, RUN_INFO_FILE);
  if (!fs.existsSync(file)) throw new MissingFileError(file, 'a run directory holds run.json (written by `dbp-bench run`)');
  try {
    const info = JSON.parse(fs.readFileSync(file, 'utf8')) as RunInfo;
    if (info.version !== 1 || typeof info.run !== 'string') throw new Error('not a dbp-bench run.json (version 1)');
    return info;
  } catch (cause) {
    throw new DataFormatError(file, (cause as Error).message, { cause });
  }
}

/** Results file text: one record per line, in subset order. */
export function resultsText(records: readonly SampleRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
}

function minTime(xs: string[]): string | undefined {
  return xs.length ? xs.reduce((a, b) => (a < b ? a : b)) : undefined;
}
function maxTime(xs: string[]): string | undefined {
  return xs.length ? xs.reduce((a, b) => (a > b ? a : b)) : undefined;
}

/**
 * The `results` of a measured entry from the aggregate of its records (`aggregate`): R = 1 has no
 * clean Wor.Rob, a run without attacks no robust metrics. The one home of this mapping: the entry is
 * built with it and `leaderboard validate` re-computes it from a submitted results file.
 */
export function measuredResults(agg: AggregatedResults, R: number, attacked: boolean): LeaderboardEntry['results'] {
  return {
    clean: agg.clean,
    cleanWorstOfR: R > 1 ? agg.cleanWorstOfR : null,
    cleanSingle: agg.cleanSingle,
    cleanMajority: agg.cleanMajority,
    cleanHistogram: agg.cleanHistogram,
    draws: R,
    attacks: agg.attacks,
    robust: attacked ? agg.robust : null,
    ...(attacked
      ? {
          robustSingle: agg.robustSingle,
          robustWorst: agg.robustWorst,
          robustMajority: agg.robustMajority,
          ...(agg.robustAnyIteration ? { robustAnyIteration: agg.robustAnyIteration } : {}),
        }
      : {}),
  };
}

/**
 * Build the entry. `records` must be complete and sorted by position; `resultsPath` is the results
 * file path relative to where the entry will be written.
 */
export function buildMeasuredEntry(
  info: RunInfo,
  records: readonly SampleRecord[],
  metas: readonly ShardMeta[],
  results: { path: string; sha256: string },
  source: 'dbp-bench run' | 'dbp-bench merge',
): LeaderboardEntry {
  const cfg = info.config;
  const agg = aggregate(records, info.attacks);
  const R = cfg.evaluation.purifications;
  const prov = metas[0]?.provenance;
  const commits = [...new Set(metas.map((m) => m.provenance.gitCommit).filter((c): c is string => Boolean(c)))];
  const commitSources = [...new Set(metas.map((m) => m.provenance.commitSource).filter((c): c is NonNullable<typeof c> => Boolean(c)))];
  const stalledAttack = agg.attacks.some((a) => (a.checks?.flags.length ?? 0) > 0);
  const hosts = new Set(
    metas.map((m) => `${m.provenance.hardware.cpuModel}|${m.provenance.hardware.cpuCount}|${m.provenance.hardware.memoryBytes}`),
  ).size;
  const start = minTime(metas.map((m) => m.startTime));
  const end = maxTime(metas.map((m) => m.endTime).filter((t): t is string => Boolean(t)));
  const lb = cfg.leaderboard;
  const entry: LeaderboardEntry = {
    schemaVersion: 1,
    id: cfg.name,
    kind: 'measured',
    name: lb.model || cfg.name,
    ...(cfg.description ? { description: cfg.description } : {}),
    paper: null,
    dataset: {
      id: info.dataset.id,
      split: info.dataset.split,
      n: records.length,
      subset: cfg.dataset.subset as Record<string, unknown>,
      indicesHash: info.dataset.indicesHash,
    },
    threatModel: {
      id: info.threat.id,
      norm: info.threat.norm,
      eps: info.threat.eps === null ? null : { value: info.threat.eps, display: formatEps(info.threat.eps) },
    },
    defense: { id: info.defense.id, family: lb.family, options: info.defense.options, capabilities: info.defense.capabilities },
    classifier: { architecture: info.classifier.architecture, weights: info.classifier.weights, sha256: info.classifier.sha256 },
    results: measuredResults(agg, R, info.attacks.length > 0),
    values: {
      reported: null,
      measured: { clean: agg.clean.value, robust: info.attacks.length ? agg.robust.value : null, source: `${source} ${info.run}` },
      bestKnown: info.attacks.length
        ? { clean: agg.clean.value, robust: agg.robust.value, source: `this evaluation (run ${info.run})` }
        : null,
    },
    protocol: {
      attacks: info.attacks,
      purifications: R,
      batchSize: info.batchSize,
      survivors: 'each attack runs on the samples whose running robust fraction is > 0 (not yet fooled in every draw)',
      aggregation:
        R > 1
          ? `per sample: fraction of the R = ${R} purifications classified correctly; after each attack the running fraction becomes the minimum of the previous one and the attack's (ADDT Fixed-AutoAttack rule); accuracy = mean over samples; Wilson interval on the sum of fractions (conservative)`
          : 'per sample: one fresh purification after the attack (the ADDT protocol); robust = correct after every attack',
      reduced: lb.reducedProtocol,
      ...(lb.notes ? { notes: lb.notes } : {}),
    },
    flags: {
      randomized: info.sanity.ran ? info.sanity.randomized : info.defense.capabilities.stochastic,
      // a voted prediction classifies K purifications (ALGORITHMS.md §14.6)
      forwardPasses: R * voteSize(info.defense.options) * (info.defense.capabilities.networkCalls + 1),
      unreliable: stalledAttack || info.sanity.flags.some((f) => f.id === 'zero-gradient' || f.id === 'probabilities-not-logits'),
      reducedProtocol: lb.reducedProtocol,
      sanity: info.sanity.flags,
      stalledAttack,
    },
    provenance: {
      source,
      frameworkVersion: prov?.frameworkVersion ?? 'unknown',
      gitCommit: commits.length ? commits.join(', ') : null,
      ...(commitSources.length === 1 ? { commitSource: commitSources[0] } : {}),
      ...(info.identity ? { files: info.identity.files, modules: info.identity.modules } : {}),
      backend: prov?.backend ?? null,
      hardware: prov ? { ...prov.hardware, hosts } : null,
      seeds: info.seeds,
      datasetIndicesHash: info.dataset.indicesHash,
      runHash: info.run,
      shards: metas.length ? metas[0].shard.count : 1,
      ...(start ? { startTime: start } : {}),
      ...(end ? { endTime: end } : {}),
    },
    resultsFile: { path: results.path, sha256: results.sha256, records: records.length },
  };
  return validateEntry(entry, `leaderboard entry of run ${info.run}`);
}

/**
 * Write `<file>` (the entry) and its results file next to it (`<id>.results.jsonl`), both atomically.
 * Returns the entry as written (its resultsFile path relative to the entry).
 */
export function writeEntryWithResults(file: string, entry: LeaderboardEntry, results: string): LeaderboardEntry {
  const resultsName = `${path.basename(file, '.json')}.results.jsonl`;
  writeFileAtomic(path.join(path.dirname(file), resultsName), results);
  const e = { ...entry, resultsFile: { path: resultsName, sha256: sha256(results), records: entry.resultsFile?.records ?? 0 } };
  writeEntry(file, e);
  return e;
}

/** The default place of an entry in an entries directory. */
export function defaultEntryFile(entriesDir: string, entry: LeaderboardEntry): string {
  return entryPath(entriesDir, entry);
}

/**
 * Write results.jsonl + entry.json in the run directory, and the entry (with its results file) into
 * an entries directory or `entryFileOverride`. Every file is written atomically, and the run
 * directory's entry.json last: when it exists, the copy is complete too. A kill before it leaves the
 * run unfinished, and rerunning the same command (which finds the journal complete) finalises again.
 */
export function finalizeRun(
  info: RunInfo,
  records: SampleRecord[],
  metas: ShardMeta[],
  runDir: string,
  entriesDir: string | null,
  source: 'dbp-bench run' | 'dbp-bench merge',
  entryFileOverride?: string,
): { entry: LeaderboardEntry; entryFile: string } {
  const text = resultsText(records);
  writeFileAtomic(path.join(runDir, 'results.jsonl'), text);
  const entry = buildMeasuredEntry(info, records, metas, { path: 'results.jsonl', sha256: sha256(text) }, source);
  const runEntry = path.join(runDir, 'entry.json');
  const target = entryFileOverride ?? (entriesDir ? defaultEntryFile(entriesDir, entry) : undefined);
  const copied = target ? writeEntryWithResults(target, entry, text) : undefined;
  writeEntry(runEntry, entry);
  return target && copied ? { entry: copied, entryFile: target } : { entry, entryFile: runEntry };
}
