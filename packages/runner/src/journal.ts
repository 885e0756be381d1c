/**
 * The journal of a run shard (`journal[.shard-i-of-n].jsonl`: a header line, then one fsynced
 * sample record per line), its meta file, its lock, and the rules its records must follow.
 *
 * Resume: the header names the run, shard, subset, batch size and run identity; a journal of another
 * run is refused; one whose identity differs refuses unless `restart` discards it (identity.ts); one
 * holding only a header is started again silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, Journal, acquireLock, canonicalJson, type HeldLock, type Logger } from '@dbp-bench/framework';
import type { RunInfo } from './entry';
import { RunChangedError, identityChanges } from './identity';
import type { JournalHeader, JournalLine, RecordRules, SampleRecord } from './records';
import { shardBatches, shardSuffix, type ShardSpec } from './shard';

/** `<run dir>/journal[.shard-i-of-n].jsonl`. */
export function journalFile(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>): string {
  return path.join(runDir, `journal${shardSuffix(shard)}.jsonl`);
}

/** `<run dir>/meta[.shard-i-of-n].json`. */
export function metaFile(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>): string {
  return path.join(runDir, `meta${shardSuffix(shard)}.json`);
}

/** The lock file of a shard: `lock.json` (unsharded, and `merge`), `lock.shard-<i>-of-<n>.json`. */
export function lockFile(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>): string {
  return path.join(runDir, `lock${shardSuffix(shard)}.json`);
}

/**
 * Take the lock of a shard (or, for `merge`, of the run directory's entry): one writer at a time.
 * LockHeldError names the holder's pid and host; a crashed holder's lock is taken over (framework lock.ts).
 */
export function lockShard(runDir: string, shard: Pick<ShardSpec, 'index' | 'count'>, what: string, logger: Logger): HeldLock {
  const lock = acquireLock(lockFile(runDir, shard), { what });
  if (lock.recovered) {
    const r = lock.recovered;
    logger.warn(
      `${lock.file}: took over the lock of a process that is gone (${r === 'unreadable' ? 'unreadable lock' : `pid ${r.pid} on host ${r.host}, since ${r.started}`})`,
    );
  }
  return lock;
}

function sameHeader(a: JournalHeader, b: JournalHeader): boolean {
  return (
    a.run === b.run &&
    a.shard.index === b.shard.index &&
    a.shard.count === b.shard.count &&
    a.subset.n === b.subset.n &&
    a.subset.hash === b.subset.hash &&
    a.batchSize === b.batchSize
  );
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
      if (canonicalJson(l) !== headerText)
        throw new DataFormatError(file, `line ${i + 1} is a second header that differs from the first; the journal mixes two runs`);
    } else throw new DataFormatError(file, `line ${i + 1} is neither a sample record nor the header (type ${JSON.stringify(l?.type)})`);
  }
  return { header, records };
}

/**
 * The journal of a shard as this run finds it, ready to resume: with `restart`, the shard's journal
 * and meta (unsharded: also results.jsonl and entry.json) are removed first; a journal of another
 * run is refused (readJournal); one computed with another identity is refused (RunChangedError) when
 * it holds records, else removed. Returns the journal file and the records already journaled (with
 * the header when the journal exists).
 */
export function resumeJournal(
  runDir: string,
  shard: ShardSpec,
  header: JournalHeader,
  restart: boolean,
  logger: Logger,
): { file: string; prior: { header?: JournalHeader; records: SampleRecord[] } } {
  const file = journalFile(runDir, shard);
  if (restart) {
    const gone = [
      file,
      metaFile(runDir, shard),
      ...(shard.count === 1 ? [path.join(runDir, 'results.jsonl'), path.join(runDir, 'entry.json')] : []),
    ].filter((f) => fs.existsSync(f));
    for (const f of gone) fs.rmSync(f);
    if (gone.length) logger.info(`--restart: removed ${gone.map((f) => path.basename(f)).join(', ')} of run ${header.run}`);
  }
  let prior = readJournal(file, header);
  if (prior.header && header.identity) {
    const changes = identityChanges(prior.header.identity, header.identity);
    if (changes.length && prior.records.length) throw new RunChangedError(file, changes);
    if (changes.length) {
      // A header without records: nothing would mix; start the journal again with this identity.
      logger.info(`${file} holds no records yet; starting it again with this run's inputs (${changes.length} changed)`);
      fs.rmSync(file);
      prior = { records: [] };
    }
  }
  return { file, prior };
}

/** The rules a journal's records must follow (records.ts recordProblems) under a run's run.json. */
export function recordRules(
  info: Pick<RunInfo, 'dataset' | 'batchSize' | 'config' | 'attacks'>,
  shard: Pick<ShardSpec, 'index' | 'count'>,
): RecordRules {
  const n = info.dataset.n;
  const bs = info.batchSize;
  const range = shardBatches(Math.ceil(n / bs), shard);
  return {
    indices: info.dataset.indices,
    range: { start: Math.min(n, range.start * bs), end: Math.min(n, range.end * bs) },
    R: info.config.evaluation.purifications,
    attacks: info.attacks.map((a) => ({
      name: a.name,
      ...(a.norm ? { norm: a.norm } : {}),
      ...(a.eps !== undefined ? { eps: a.eps } : {}),
    })),
    ...(info.config.evaluation.inLoopDraws !== undefined ? { inLoopDraws: info.config.evaluation.inLoopDraws } : {}),
  };
}
