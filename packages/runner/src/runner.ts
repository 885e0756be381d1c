/**
 * The benchmark runner (ARCHITECTURE.md, data flow of a benchmark run):
 *
 * config -> frozen RunConfig -> run scope -> dataset subset -> classifier, defense, attacks
 *   -> sanity checks -> per batch: clean evaluation (R purifications per sample), attacks in order on
 *   survivors -> per-sample records appended to a journal (fsynced JSONL) -> entry + results file.
 *
 * Determinism: a batch is always the same samples (batches are cut from the subset in order, and a
 * shard is a contiguous range of whole batches); every batch gets new attack targets, so the fresh
 * noise counters start from zero per batch; keyed noise depends on (seed, sample) only. Hence a
 * sharded, resumed or uninterrupted run writes identical per-sample records.
 *
 * Resume: the journal's header names the run and shard; records already present are skipped; a
 * batch cut short by a kill is recomputed and only its missing records are appended. The header also
 * holds the run identity (identity.ts: weights hashes, serving modules); a rerun with another identity
 * refuses, naming what changed, unless `restart` discards the shard's records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  DataFormatError,
  Journal,
  SanityCheckError,
  acquireLock,
  canonicalJson,
  cleanStaleTemporariesIn,
  budgetExceedsInput,
  hash32,
  sha256,
  silentLogger,
  writeFileAtomic,
  writeJsonAtomic,
  type Attack,
  type AttackDiagnostics,
  type Dataset,
  type Defense,
  type DeepReadonly,
  type GradientMode,
  type HeldLock,
  type Logger,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { loadRunConfig, type RunConfig } from './config';
import { writeEntry, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { defaultDeps, type LoadedClassifier, type RunnerDeps } from './deps';
import {
  RUN_INFO_FILE,
  buildMeasuredEntry,
  defaultEntryFile,
  resultsText,
  runThreat,
  writeEntryWithResults,
  type RunInfo,
  type ShardMeta,
} from './entry';
import { RunChangedError, computeRunIdentity, configFiles, identityChanges, pluginModules, type ServingModule } from './identity';
import { runProvenance } from './provenance';
import { aggregate, attackCheckWarning, checkRecords, drawRecord, sampleChecks, type AttackRecord, type JournalHeader, type JournalLine, type RecordRules, type SampleRecord } from './records';
import { checkBudget, describeAttack, protocolOf, runSanityChecks, type RunAttack } from './sanity';
import { UNSHARDED, shardBatches, shardSuffix, type ShardSpec } from './shard';

export interface RunOptions {
  registry: PluginRegistry;
  /** Config file path, or a config object (then `baseDir` resolves its relative paths). */
  config: string | unknown;
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
}

/** Derive a 32-bit seed for a named purpose from the run seed. */
export function deriveSeed(seed: number, purpose: string): number {
  return hash32(`${seed}:${purpose}`);
}

function journalFile(runDir: string, shard: ShardSpec): string {
  return path.join(runDir, `journal${shardSuffix(shard)}.jsonl`);
}
function metaFile(runDir: string, shard: ShardSpec): string {
  return path.join(runDir, `meta${shardSuffix(shard)}.json`);
}

function sameHeader(a: JournalHeader, b: JournalHeader): boolean {
  return a.run === b.run && a.shard.index === b.shard.index && a.shard.count === b.shard.count && a.subset.n === b.subset.n && a.subset.hash === b.subset.hash && a.batchSize === b.batchSize;
}

/** Read a journal: its header and sample records (validated against `expect` when given). */
export function readJournal(file: string, expect?: JournalHeader): { header?: JournalHeader; records: SampleRecord[] } {
  let lines: JournalLine[];
  try {
    lines = Journal.read<JournalLine>(file);
  } catch (cause) {
    throw new DataFormatError(file, `a line is not valid JSON (${(cause as Error).message}); the journal is damaged`, { cause });
  }
  if (!lines.length) return { records: [] };
  const header = lines[0];
  if (header.type !== 'header') throw new DataFormatError(file, 'the first line is not a journal header');
  if (expect && !sameHeader(header, expect)) {
    throw new DataFormatError(
      file,
      `belongs to run ${header.run} shard ${header.shard.index}/${header.shard.count} (subset ${header.subset.n} images, hash ${header.subset.hash}, batch ${header.batchSize}), ` +
        `not to run ${expect.run} shard ${expect.shard.index}/${expect.shard.count}; move it away or use another --out`,
    );
  }
  const records: SampleRecord[] = [];
  const headerText = canonicalJson(header);
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i] as Partial<JournalLine> | null;
    if (l?.type === 'sample') records.push(l as SampleRecord);
    else if (l?.type === 'header') {
      // The same header twice (two processes started the journal): harmless; another one: refused.
      if (canonicalJson(l) !== headerText) throw new DataFormatError(file, `line ${i + 1} is a second header that differs from the first; the journal mixes two runs`);
    } else throw new DataFormatError(file, `line ${i + 1} is neither a sample record nor the header (type ${JSON.stringify(l?.type)})`);
  }
  return { header, records };
}

/** The lock file of a shard: `lock.json` (unsharded, and `merge`), `lock.shard-<i>-of-<n>.json`. */
export function lockFile(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>): string {
  return path.join(runDir, `lock${shardSuffix(shard)}.json`);
}

/** The rules a journal's records must follow (records.ts recordProblems) under a run's run.json. */
export function recordRules(info: Pick<RunInfo, 'dataset' | 'batchSize' | 'config' | 'attacks'>, shard: Pick<ShardSpec, 'index' | 'count'>): RecordRules {
  const n = info.dataset.n;
  const bs = info.batchSize;
  const range = shardBatches(Math.ceil(n / bs), shard);
  return {
    indices: info.dataset.indices,
    range: { start: Math.min(n, range.start * bs), end: Math.min(n, range.end * bs) },
    R: info.config.evaluation.purifications,
    attacks: info.attacks.map((a) => ({ name: a.name, ...(a.norm ? { norm: a.norm } : {}), ...(a.eps !== undefined ? { eps: a.eps } : {}) })),
  };
}

/**
 * Take the lock of a shard (or, for `merge`, of the run directory's entry): one writer at a time.
 * LockHeldError names the holder's pid and host; a crashed holder's lock is taken over (framework lock.ts).
 */
export function lockShard(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>, what: string, logger: Logger): HeldLock {
  const lock = acquireLock(lockFile(runDir, shard), { what });
  if (lock.recovered) {
    const r = lock.recovered;
    logger.warn(`${lock.file}: took over the lock of a process that is gone (${r === 'unreadable' ? 'unreadable lock' : `pid ${r.pid} on host ${r.host}, since ${r.started}`})`);
  }
  return lock;
}

/** Run (or resume) one shard of a benchmark. */
export async function runBenchmark(opts: RunOptions): Promise<RunOutcome> {
  const logger = opts.logger ?? silentLogger;
  const deps = opts.deps ?? defaultDeps();
  const now = opts.now ?? (() => new Date());
  const shard = opts.shard ?? UNSHARDED;
  const { config, hash, baseDir, file } = loadRunConfig(opts.registry, opts.config, opts.baseDir);
  const scope = opts.registry.createScope({ logger, baseDir });
  const outDir = path.resolve(opts.outDir ?? config.output.dir);
  const runDir = path.join(outDir, hash);
  fs.mkdirSync(runDir, { recursive: true });
  const lock = lockShard(runDir, shard, `run ${hash} shard ${shard.index}/${shard.count} (${runDir})`, logger);
  try {
    for (const t of cleanStaleTemporariesIn(runDir)) logger.info(`removed ${t}, left in ${runDir} by an interrupted write`);
    return await runShard(opts, { logger, deps, now, shard, config, hash, baseDir, file, runDir, scope });
  } finally {
    lock.release();
  }
}

interface ShardContext {
  logger: Logger;
  deps: RunnerDeps;
  now: () => Date;
  shard: ShardSpec;
  config: DeepReadonly<RunConfig>;
  hash: string;
  baseDir: string;
  file?: string;
  runDir: string;
  scope: ReturnType<PluginRegistry['createScope']>;
}

/** The body of runBenchmark, under the shard's lock. */
async function runShard(opts: RunOptions, c: ShardContext): Promise<RunOutcome> {
  const { logger, deps, now, shard, config, hash, baseDir, file, runDir, scope } = c;
  const dataset = await scope.create<Dataset>('dataset', config.dataset.id, config.dataset.options);
  const indices = deps.selectSubset(dataset, config.dataset.subset as RunConfig['dataset']['subset']);
  const indicesHash = deps.subsetHash(indices);
  const n = indices.length;
  const bs = config.evaluation.batchSize;
  const batches = Math.ceil(n / bs);
  const range = shardBatches(batches, shard);
  const shardPositions = Math.max(0, Math.min(n, range.end * bs) - range.start * bs);
  // The run identity: hashes of the weights files and of the modules that serve this run.
  const serving: ServingModule[] = [
    { name: '@dbp-bench/runner', file: __filename, serves: 'runner' },
    { name: '@dbp-bench/framework', file: require.resolve('@dbp-bench/framework'), serves: 'runner' },
    ...(deps.modules ?? []),
    ...pluginModules(opts.registry, config),
  ];
  const identity = await computeRunIdentity(configFiles(opts.registry, config), serving, baseDir);
  const header: JournalHeader = { type: 'header', version: 1, run: hash, shard: { index: shard.index, count: shard.count }, subset: { n, hash: indicesHash }, batchSize: bs, identity };
  const jFile = journalFile(runDir, shard);
  if (opts.restart) {
    const gone = [jFile, metaFile(runDir, shard), ...(shard.count === 1 ? [path.join(runDir, 'results.jsonl'), path.join(runDir, 'entry.json')] : [])].filter((f) => fs.existsSync(f));
    for (const f of gone) fs.rmSync(f);
    if (gone.length) logger.info(`--restart: removed ${gone.map((f) => path.basename(f)).join(', ')} of run ${hash}`);
  }
  let prior = readJournal(jFile, header);
  if (prior.header) {
    const changes = identityChanges(prior.header.identity, identity);
    if (changes.length && prior.records.length) throw new RunChangedError(jFile, changes);
    if (changes.length) {
      // A header without records: nothing would mix; start the journal again with this identity.
      logger.info(`${jFile} holds no records yet; starting it again with this run's inputs (${changes.length} changed)`);
      fs.rmSync(jFile);
      prior = { records: [] };
    }
  }
  const done = new Set(prior.records.map((r) => r.position));
  logger.info(`run ${config.name} (${hash}) shard ${shard.index}/${shard.count}: ${shardPositions} of ${n} samples (batches ${range.start}..${range.end - 1} of ${batches})${done.size ? `, ${done.size} already journaled: resuming` : ''}`);

  const weights = scope.resolvePath(config.classifier.weights);
  const classifier: LoadedClassifier = await deps.loadClassifier(weights);
  let defense: Defense | undefined;
  const journal = new Journal<JournalLine>(jFile);
  let batchesComputed = 0;
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
    const runAttacks: RunAttack[] = [];
    for (const [k, ref] of config.attacks.entries()) {
      const attack = await scope.create<Attack>('attack', ref.id, ref.options);
      const tooLarge = budgetExceedsInput(attack.threat, dataset.info.shape);
      if (tooLarge) throw new ConfigValidationError(file ?? 'run config', [`$.attacks[${k}].options.eps: ${tooLarge}`]);
      const options = opts.registry.options('attack', ref.id, ref.options) as unknown as Record<string, unknown>;
      runAttacks.push(describeAttack(ref.name ?? (config.attacks.filter((a) => a.id === ref.id).length > 1 ? `${ref.id}#${k + 1}` : ref.id), ref.id, attack, options, defense));
    }
    const names = runAttacks.map((a) => a.name);
    const dup = names.find((nm, i) => names.indexOf(nm) !== i);
    if (dup) throw new ConfigValidationError(file ?? 'run config', [`$.attacks: two attacks are named '${dup}'; give each a distinct name`]);
    // leaderboard.threatModel is a safe path segment by the schema (SAFE_ID_PATTERN); runThreat checks the derived id.
    const threat = runThreat(runAttacks, config.leaderboard.threatModel);
    const seeds: Record<string, number> = { run: config.seed, clean: deriveSeed(config.seed, 'clean'), sanity: deriveSeed(config.seed, 'sanity') };
    runAttacks.forEach((a, k) => (seeds[`attack:${k}:${a.name}`] = deriveSeed(config.seed, `attack:${k}`)));
    const attackSeed = (k: number): number => deriveSeed(config.seed, `attack:${k}`);
    const cleanGradient: GradientMode = defense.capabilities.gradientModes.includes('exact') ? 'exact' : (defense.capabilities.gradientModes[0] ?? 'exact');
    const def = defense;
    const makeTarget = (policy: RunAttack['policy'], gradient: GradientMode, seed: number) => deps.createTarget(classifier, def, { policy, seed, gradient });

    // Sanity checks, on the first samples of the subset (the same for every shard).
    let sanity: RunInfo['sanity'] = { ran: false, randomized: null, flags: [] };
    if (config.evaluation.sanityChecks) {
      const first = indices.slice(0, Math.min(2, n));
      const b = await dataset.get(first);
      try {
        const r = runSanityChecks({ classifier, defense, attacks: runAttacks, x: b.images, y: b.labels, indices: first, target: makeTarget, seed: seeds.sanity, logger });
        sanity = { ran: true, randomized: r.randomized, flags: r.flags };
      } finally {
        b.images.dispose();
      }
    } else {
      logger.warn('sanity checks are disabled (evaluation.sanityChecks = false); the budget is still checked after every attack');
    }

    const info: RunInfo = {
      version: 1,
      run: hash,
      config: config as DeepReadonly<RunConfig>,
      ...(file ? { configFile: file } : {}),
      dataset: { id: dataset.info.id, split: dataset.info.split, size: dataset.info.size, n, indicesHash, indices },
      batchSize: bs,
      batches,
      classifier: { weights: config.classifier.weights, sha256: identity.files.find((f) => f.role === 'classifier.weights')?.sha256 ?? null, architecture: classifier.arch ?? null },
      defense: {
        id: defense.id,
        options: config.defense.options as Record<string, unknown>,
        capabilities: {
          stochastic: defense.capabilities.stochastic,
          streams: [...defense.capabilities.streams],
          gradientModes: [...defense.capabilities.gradientModes],
          networkCalls: defense.capabilities.networkCalls,
        },
      },
      attacks: runAttacks.map(protocolOf),
      threat,
      sanity,
      seeds,
      identity,
    };
    // Fail before computing anything when the journal already holds records that break the run's rules.
    const rules = recordRules(info, shard);
    checkRecords(prior.records, rules, jFile);
    writeJsonAtomic(path.join(runDir, RUN_INFO_FILE), info);
    if (!prior.header) journal.append(header);
    writeJsonAtomic(metaPath, meta);

    const R = config.evaluation.purifications;
    const bar = logger.progress(`${config.name} ${shard.count > 1 ? `shard ${shard.index}/${shard.count}` : ''}`.trim(), shardPositions, done.size);
    for (let b = range.start; b < range.end; b++) {
      const positions: number[] = [];
      for (let p = b * bs; p < Math.min(n, (b + 1) * bs); p++) positions.push(p);
      const missing = positions.filter((p) => !done.has(p));
      if (!missing.length) continue;
      if (opts.stopAfterBatches !== undefined && batchesComputed >= opts.stopAfterBatches) break;
      const records = await evaluateBatch({ dataset, classifier, defense, attacks: runAttacks, deps, R, indices, positions, cleanSeed: seeds.clean, attackSeed, cleanGradient, logger });
      for (const r of records) {
        if (done.has(r.position)) continue;
        journal.append(r);
        done.add(r.position);
      }
      batchesComputed++;
      bar.tick(missing.length, `batch ${b + 1}/${batches}`);
      meta.samples.done = done.size;
    }
    bar.done();
    const complete = done.size === shardPositions;
    meta.complete = complete;
    meta.endTime = now().toISOString();
    meta.samples.done = done.size;
    writeJsonAtomic(metaPath, meta);
    const outcome: RunOutcome = { run: hash, runDir, journal: jFile, shard, complete, samples: { done: done.size, total: shardPositions }, batchesComputed, info };
    if (!complete) {
      logger.info(`stopped after ${batchesComputed} batches (${done.size}/${shardPositions} samples journaled); rerun the same command to resume`);
      return outcome;
    }
    // Aggregate only what the journal holds, deduplicated and checked record by record.
    const checked = checkRecords(readJournal(jFile, header).records, rules, jFile);
    if (checked.duplicates) logger.warn(`${jFile}: ${checked.duplicates} sample record(s) journaled twice (identical); each is counted once`);
    const records = checked.records;
    if (records.length !== shardPositions) throw new DataFormatError(jFile, `holds ${records.length} distinct samples after the run, the shard has ${shardPositions}; the journal was changed while the run held it`);
    if (shard.count > 1) {
      logger.info(`shard ${shard.index}/${shard.count} complete; when all shards are done: dbp-bench merge ${runDir}`);
      const warning = attackCheckWarning(aggregate(records, info.attacks).attacks, records.length, `run ${config.name} (${hash}), shard ${shard.index}/${shard.count}`);
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

interface BatchContext {
  dataset: Dataset;
  classifier: LoadedClassifier;
  defense: Defense;
  attacks: readonly RunAttack[];
  deps: RunnerDeps;
  R: number;
  indices: readonly number[];
  positions: readonly number[];
  cleanSeed: number;
  attackSeed(k: number): number;
  cleanGradient: GradientMode;
  logger: Logger;
}

/** Clean evaluation and the attacks (on survivors) of one batch; returns one record per position. */
async function evaluateBatch(c: BatchContext): Promise<SampleRecord[]> {
  const idx = c.positions.map((p) => c.indices[p]);
  const batch = await c.dataset.get(idx);
  try {
    const labels = Int32Array.from(batch.labels);
    const cleanTarget = c.deps.createTarget(c.classifier, c.defense, { policy: 'fresh', seed: c.cleanSeed, gradient: c.cleanGradient });
    const cleanEval = await c.deps.evaluateRandomized(cleanTarget, batch.images, labels, idx, c.R);
    const records: SampleRecord[] = c.positions.map((position, i) => {
      const clean = drawRecord(labels[i], cleanEval[i].predictions);
      return { type: 'sample', position, index: idx[i], label: labels[i], clean, attacks: [], robust: clean.mean };
    });
    const worst = records.map((r) => r.clean.worst);
    const majority = records.map((r) => r.clean.majority);
    for (const [k, a] of c.attacks.entries()) {
      const surv = records.map((r, i) => (r.robust > 0 ? i : -1)).filter((i) => i >= 0);
      const results = new Map<number, AttackRecord>();
      if (surv.length) {
        const sIdx = surv.map((i) => idx[i]);
        const sLabels = Int32Array.from(surv.map((i) => labels[i]));
        const xs = tf.tidy(() => tf.gather(batch.images, tf.tensor1d(surv, 'int32')) as tf.Tensor4D);
        const ys = tf.tensor1d(sLabels, 'int32');
        let xAdv: tf.Tensor4D | undefined;
        const got: { diagnostics?: AttackDiagnostics } = {};
        try {
          const target = c.deps.createTarget(c.classifier, c.defense, { policy: a.policy, seed: c.attackSeed(k), gradient: a.gradient });
          xAdv = await a.attack.perturb(target, xs, ys, { logger: c.logger, sampleIndices: sIdx, seed: c.attackSeed(k), reportDiagnostics: (d) => (got.diagnostics = d) });
          const dist = checkBudget(a, xs, xAdv, sIdx);
          const diag = got.diagnostics;
          if (diag) checkDiagnostics(a, diag, surv.length);
          const step = diag?.stepSize ?? a.stepSize;
          const ev = await c.deps.evaluateRandomized(target, xAdv, sLabels, sIdx, c.R);
          surv.forEach((i, j) => {
            const e = drawRecord(labels[i], ev[j].predictions);
            const robust = Math.min(records[i].robust, e.mean);
            worst[i] = worst[i] && e.worst;
            majority[i] = majority[i] && e.majority;
            const checks = sampleChecks({ norm: a.norm, eps: a.eps, step }, a.norm === 'linf' ? dist[j].linf : dist[j].l2, robust, {
              gradientVanished: diag ? diag.gradientVanished[j] : null,
              keptClean: diag?.keptClean?.[j] ?? false,
            });
            results.set(i, { name: a.name, ran: true, eval: e, distance: dist[j], checks, robust, robustWorst: worst[i], robustMajority: majority[i] });
          });
        } finally {
          xs.dispose();
          ys.dispose();
          xAdv?.dispose();
        }
      }
      records.forEach((r, i) => {
        const res = results.get(i) ?? { name: a.name, ran: false, robust: r.robust, robustWorst: worst[i], robustMajority: majority[i] };
        r.attacks.push(res);
        r.robust = res.robust;
      });
    }
    return records;
  } finally {
    batch.images.dispose();
  }
}

/** An attack's reported diagnostics must have one entry per row (boolean or null) and a positive step. */
function checkDiagnostics(a: RunAttack, d: AttackDiagnostics, rows: number): void {
  const bad = (what: string): never => {
    throw new SanityCheckError('attack-diagnostics', `attack '${a.name}' (${a.id}) reported malformed diagnostics: ${what}`);
  };
  if (!Array.isArray(d.gradientVanished) || d.gradientVanished.length !== rows) bad(`gradientVanished has ${Array.isArray(d.gradientVanished) ? d.gradientVanished.length : 'no'} entries for ${rows} rows`);
  if (d.gradientVanished.some((v) => v !== null && typeof v !== 'boolean')) bad('gradientVanished entries must be true, false or null');
  if (d.keptClean !== undefined && (!Array.isArray(d.keptClean) || d.keptClean.length !== rows || d.keptClean.some((v) => typeof v !== 'boolean'))) bad(`keptClean must hold ${rows} booleans`);
  if (d.stepSize !== undefined && !(typeof d.stepSize === 'number' && d.stepSize > 0 && Number.isFinite(d.stepSize))) bad(`stepSize ${d.stepSize} is not a positive number`);
}
