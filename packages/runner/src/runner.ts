/**
 * The benchmark runner (ARCHITECTURE.md, data flow of a benchmark run), one shard per call:
 *
 * config (config.ts) -> frozen RunConfig -> shard lock (journal.ts) -> plan: dataset subset and
 *   the shard's batches, run identity (plan.ts, identity.ts) -> journal resumed or started
 *   -> classifier, defense, attacks with their declared protocols (plan.ts) -> preflight sanity
 *   checks (sanity.ts) -> run.json -> batches: clean evaluation, attacks on survivors, records
 *   journaled (execute.ts) -> when complete and unsharded: results.jsonl + entry (entry.ts);
 *   sharded runs are combined by merge.ts.
 *
 * Resume: the journal's header names the run and shard; records already present are skipped; a
 * batch cut short by a kill is recomputed and only its missing records are appended. The header also
 * holds the run identity (identity.ts: weights hashes, serving modules); a rerun with another identity
 * refuses, naming what changed, unless `restart` discards the shard's records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DataFormatError,
  Journal,
  cleanStaleTemporariesIn,
  silentLogger,
  writeJsonAtomic,
  type Dataset,
  type Defense,
  type GradientMode,
  type Logger,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { readEntry, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { loadRunConfig } from './config';
import { defaultDeps, type LoadedClassifier, type RunnerDeps } from './deps';
import { RUN_INFO_FILE, finalizeRun, readRunInfo, type RunInfo, type ShardMeta } from './entry';
import { adversarialDir, executeBatches } from './execute';
import { lockShard, metaFile, readJournal, recordRules, resumeJournal } from './journal';
import {
  attackSeed,
  defaultGradient,
  finalSeed,
  inLoopSeed,
  planAttacks,
  planIdentity,
  planSubset,
  runInfo,
  runSeeds,
  runThreat,
  type RunAttack,
} from './plan';
import { runProvenance } from './provenance';
import { aggregate, attackCheckWarning, checkRecords, type JournalHeader, type JournalLine } from './records';
import { preflight } from './sanity';
import { UNSHARDED, type ShardSpec } from './shard';
import { withVote } from './vote';

export interface RunOptions {
  registry: PluginRegistry;
  /** Config file path, or a config object (then `baseDir` resolves its relative paths). */
  config: unknown;
  baseDir?: string;
  /** Output root; the run directory is `<outDir>/<run hash>`. Default: the config's output.dir, relative to the working directory. */
  outDir?: string;
  shard?: ShardSpec;
  logger?: Logger;
  deps?: RunnerDeps;
  /** Stop (resumably) after computing this many batches in this process. */
  stopAfterBatches?: number;
  /** Where to also write the entry when an unsharded run completes (`<dir>/<dataset>/<threat>/<id>.json`); null: only the run directory. */
  entriesDir?: string | null;
  /** Discard this shard's journal and meta (and, unsharded, results.jsonl and entry.json) and start over. */
  restart?: boolean;
  /** Clock (tests). */
  now?: () => Date;
  /** Polled after every batch: true stops the run there, resumably (SIGINT/SIGTERM in the CLI). */
  shouldStop?: () => boolean;
}

export interface RunOutcome {
  run: string;
  runDir: string;
  journal: string;
  shard: ShardSpec;
  complete: boolean;
  /** Samples of this shard, and how many are journaled. */
  samples: { done: number; total: number };
  /** Batches computed by this process. */
  batchesComputed: number;
  entry?: LeaderboardEntry;
  entryFile?: string;
  info: RunInfo;
  /** The multi-line warning when an attack's checks flagged it (over the entry, or this shard's records); print it last. */
  checkWarning?: string;
  /** The shard was already complete (and, unsharded, its entry written): nothing was computed or written. */
  alreadyComplete?: boolean;
  /** shouldStop() stopped the run before the shard was complete. */
  interrupted?: boolean;
}

/** Run (or resume) one shard of a benchmark. */
export async function runBenchmark(opts: RunOptions): Promise<RunOutcome> {
  const logger = opts.logger ?? silentLogger;
  const deps = opts.deps ?? defaultDeps();
  const shard = opts.shard ?? UNSHARDED;
  const { config, hash, baseDir, file } = loadRunConfig(opts.registry, opts.config, opts.baseDir);
  const outDir = path.resolve(opts.outDir ?? config.output.dir);
  const runDir = path.join(outDir, hash);
  // A run that fails before it journaled anything leaves no directory behind (it removes what it created).
  const created = [outDir, runDir].filter((d) => !fs.existsSync(d));
  fs.mkdirSync(runDir, { recursive: true });
  const lock = lockShard(runDir, shard, `run ${hash} shard ${shard.index}/${shard.count} (${runDir})`, logger);
  try {
    for (const t of cleanStaleTemporariesIn(runDir)) logger.info(`removed ${t}, left in ${runDir} by an interrupted write`);
    return await runShard(opts, { logger, deps, shard, hash, baseDir, file, runDir, config });
  } catch (e) {
    lock.release();
    removeIfEmpty(created.reverse());
    throw e;
  } finally {
    lock.release();
  }
}

/**
 * A shard that needs nothing more: every sample journaled, and its end written (unsharded: entry.json,
 * which finalisation writes last, so every copy of the entry is complete; sharded: meta says complete).
 * Null when there is work left (or `restart`).
 */
function finishedShard(
  runDir: string,
  shard: ShardSpec,
  done: number,
  total: number,
  restart: boolean,
): { entry?: LeaderboardEntry } | null {
  if (restart || done !== total || !fs.existsSync(path.join(runDir, RUN_INFO_FILE))) return null;
  if (shard.count === 1) {
    const file = path.join(runDir, 'entry.json');
    return fs.existsSync(file) ? { entry: readEntry(file) } : null;
  }
  const meta = metaFile(runDir, shard);
  return fs.existsSync(meta) && (JSON.parse(fs.readFileSync(meta, 'utf8')) as ShardMeta).complete ? {} : null;
}

/** Remove the directories in `dirs` (innermost first) that hold nothing but empty files and directories (a journal opened, nothing written). */
function removeIfEmpty(dirs: readonly string[]): void {
  const empty = (d: string): boolean =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .every((e) => (e.isDirectory() ? empty(path.join(d, e.name)) : e.isFile() && fs.statSync(path.join(d, e.name)).size === 0));
  for (const d of dirs) {
    try {
      if (fs.existsSync(d) && empty(d)) fs.rmSync(d, { recursive: true });
    } catch {
      // best effort: a directory another process writes into stays
    }
  }
}

/** The body of runBenchmark, under the shard's lock. */
async function runShard(
  opts: RunOptions,
  c: {
    logger: Logger;
    deps: RunnerDeps;
    shard: ShardSpec;
    hash: string;
    baseDir: string;
    file?: string;
    runDir: string;
    config: ReturnType<typeof loadRunConfig>['config'];
  },
): Promise<RunOutcome> {
  const { logger, deps, shard, config, hash, baseDir, file, runDir } = c;
  const now = opts.now ?? (() => new Date());
  const scope = opts.registry.createScope({ logger, baseDir });
  // Plan: the subset, this shard's batches and the run identity.
  const dataset = await scope.create<Dataset>('dataset', config.dataset.id, config.dataset.options);
  const subset = planSubset(config, dataset, deps, shard);
  const { n, range, batches, shardPositions } = subset;
  const identity = await planIdentity(opts.registry, config, deps, baseDir);
  const header: JournalHeader = {
    type: 'header',
    version: 1,
    run: hash,
    shard: { index: shard.index, count: shard.count },
    subset: { n, hash: subset.indicesHash },
    batchSize: subset.batchSize,
    identity,
  };
  const { file: jFile, prior } = resumeJournal(runDir, shard, header, Boolean(opts.restart), logger);
  const done = new Set(prior.records.map((r) => r.position));
  const finished = finishedShard(runDir, shard, done.size, shardPositions, Boolean(opts.restart));
  if (finished) {
    // nothing is computed or written, but the journal is still checked record by record
    const info = readRunInfo(runDir);
    checkRecords(prior.records, recordRules(info, shard), jFile);
    logger.info(
      shard.count > 1
        ? `run ${config.name} (${hash}) shard ${shard.index}/${shard.count} is complete (${done.size} samples journaled); nothing to do. When all shards are done: dbp-bench merge ${runDir}`
        : `run ${config.name} (${hash}) is complete: ${done.size} samples journaled, entry ${path.join(runDir, 'entry.json')}; nothing to do (--restart computes it again)`,
    );
    return {
      run: hash,
      runDir,
      journal: jFile,
      shard,
      complete: true,
      samples: { done: done.size, total: shardPositions },
      batchesComputed: 0,
      info,
      alreadyComplete: true,
      ...(finished.entry ? { entry: finished.entry, entryFile: path.join(runDir, 'entry.json') } : {}),
    };
  }
  logger.info(
    `run ${config.name} (${hash}) shard ${shard.index}/${shard.count}: ${shardPositions} of ${n} samples (batches ${range.start}..${range.end - 1} of ${batches})${done.size ? `, ${done.size} already journaled: resuming` : ''}`,
  );

  const classifier: LoadedClassifier = await deps.loadClassifier(scope.resolvePath(config.classifier.weights));
  let defense: Defense | undefined;
  const journal = new Journal<JournalLine>(jFile);
  const metaPath = metaFile(runDir, shard);
  const priorMeta = fs.existsSync(metaPath) ? (JSON.parse(fs.readFileSync(metaPath, 'utf8')) as ShardMeta) : undefined;
  const meta: ShardMeta = {
    version: 1,
    run: hash,
    shard: { index: shard.index, count: shard.count },
    startTime: priorMeta?.startTime ?? now().toISOString(),
    endTime: null,
    complete: false,
    sessions: (priorMeta?.sessions ?? 0) + 1,
    samples: { done: done.size, total: shardPositions },
    provenance: runProvenance(),
  };
  try {
    defense = await scope.create<Defense>('defense', config.defense.id, config.defense.options);
    const attacks = await planAttacks(opts.registry, scope, config, dataset, defense, file, logger);
    // leaderboard.threatModel is a safe path segment by the schema (SAFE_ID_PATTERN); runThreat checks the derived id.
    const threat = runThreat(attacks, config.leaderboard.threatModel);
    const seeds = runSeeds(config.seed, attacks, config.evaluation.inLoopDraws !== undefined);
    const def = defense;
    const targetDeps = withVote(deps, config.defense.vote);
    const makeTarget = (policy: RunAttack['policy'], gradient: GradientMode, seed: number) =>
      targetDeps.createTarget(classifier, def, { policy, seed, gradient });
    const sanity = await preflight({
      enabled: config.evaluation.sanityChecks,
      dataset,
      indices: subset.indices,
      classifier,
      defense,
      attacks,
      target: makeTarget,
      seed: seeds.sanity,
      logger,
    });
    // the config file as a path from the run directory, so a run directory moved with its tree (a
    // committed study) still finds it, and no absolute path of this machine is recorded
    const recordedFile = file === undefined ? undefined : path.relative(runDir, path.resolve(file));
    const info: RunInfo = runInfo({
      hash,
      config,
      file: recordedFile,
      dataset,
      subset,
      classifier,
      defense,
      attacks,
      threat,
      sanity,
      seeds,
      identity,
    });
    // Fail before computing anything when the journal already holds records that break the run's rules.
    const rules = recordRules(info, shard);
    checkRecords(prior.records, rules, jFile);
    writeJsonAtomic(path.join(runDir, RUN_INFO_FILE), info);
    if (!prior.header) journal.append(header);
    writeJsonAtomic(metaPath, meta);

    const batchesComputed = await executeBatches(
      {
        dataset,
        classifier,
        defense,
        attacks,
        deps: targetDeps,
        R: config.evaluation.purifications,
        indices: subset.indices,
        cleanSeed: seeds.clean,
        attackSeed: (k) => attackSeed(config.seed, k),
        finalSeed: (k) => finalSeed(config.seed, k),
        ...(config.evaluation.inLoopDraws !== undefined
          ? { inLoop: { draws: config.evaluation.inLoopDraws, seed: (k: number) => inLoopSeed(config.seed, k) } }
          : {}),
        adversarialDir: adversarialDir(runDir),
        cleanGradient: defaultGradient(defense),
        logger,
      },
      subset,
      journal,
      done,
      {
        stopAfterBatches: opts.stopAfterBatches,
        shouldStop: opts.shouldStop,
        progressLabel: `${config.name} ${shard.count > 1 ? `shard ${shard.index}/${shard.count}` : ''}`.trim(),
        onBatch: () => (meta.samples.done = done.size),
      },
    );
    const complete = done.size === shardPositions;
    meta.complete = complete;
    meta.endTime = now().toISOString();
    meta.samples.done = done.size;
    writeJsonAtomic(metaPath, meta);
    const outcome: RunOutcome = {
      run: hash,
      runDir,
      journal: jFile,
      shard,
      complete,
      samples: { done: done.size, total: shardPositions },
      batchesComputed,
      info,
    };
    if (!complete) {
      const interrupted = Boolean(opts.shouldStop?.());
      logger.info(
        `${interrupted ? 'interrupted' : 'stopped'} after ${batchesComputed} batches (${done.size}/${shardPositions} samples journaled in ${jFile}); rerun the same command to resume`,
      );
      return { ...outcome, interrupted };
    }
    // Aggregate only what the journal holds, deduplicated and checked record by record.
    const checked = checkRecords(readJournal(jFile, header).records, rules, jFile);
    if (checked.duplicates)
      logger.warn(`${jFile}: ${checked.duplicates} sample record(s) journaled twice (identical); each is counted once`);
    const records = checked.records;
    if (records.length !== shardPositions)
      throw new DataFormatError(
        jFile,
        `holds ${records.length} distinct samples after the run, the shard has ${shardPositions}; the journal was changed while the run held it`,
      );
    if (shard.count > 1) {
      logger.info(`shard ${shard.index}/${shard.count} complete; when all shards are done: dbp-bench merge ${runDir}`);
      const warning = attackCheckWarning(
        aggregate(records, info.attacks).attacks,
        records.length,
        `run ${config.name} (${hash}), shard ${shard.index}/${shard.count}`,
      );
      return { ...outcome, ...(warning ? { checkWarning: warning } : {}) };
    }
    const fin = finalizeRun(info, records, [meta], runDir, opts.entriesDir ?? null, 'dbp-bench run');
    const warning = attackCheckWarning(fin.entry.results.attacks, records.length, `run ${config.name} (${hash})`);
    return { ...outcome, entry: fin.entry, entryFile: fin.entryFile, ...(warning ? { checkWarning: warning } : {}) };
  } finally {
    journal.close();
    defense?.dispose?.();
    classifier.dispose?.();
  }
}
