/**
 * `dbp-bench merge`: combine shard journals of one run into the entry an unsharded run writes.
 * Inputs are run directories (every `journal*.jsonl` in them) or journal files; every journal must
 * belong to the same run, every record must follow the run's rules (records.ts recordProblems, within
 * its journal's shard), every sample of the subset must be present, and a sample journaled twice (e.g.
 * by an unsharded and a sharded attempt) must have identical records. merge holds the run
 * directory's lock (`lock.json`, as an unsharded run) while it writes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, MissingFileError, canonicalJson, silentLogger, type Logger } from '@dbp-bench/framework';
import type { LeaderboardEntry } from '@dbp-bench/leaderboard';
import { finalizeRun, readRunInfo, type RunInfo, type ShardMeta } from './entry';
import { RunChangedError, identityChanges, type RunIdentity } from './identity';
import { attackCheckWarning, checkRecords, type SampleRecord } from './records';
import { lockShard, readJournal, recordRules } from './journal';
import { UNSHARDED } from './shard';

const JOURNAL_RE = /^journal(\.shard-(\d+)-of-(\d+))?\.jsonl$/;

export interface MergeOptions {
  /** Entry file to write (its results file goes next to it). */
  out?: string;
  /** Entries directory (`<dir>/<dataset>/<threat>/<id>.json`) when `out` is not given. */
  entriesDir?: string | null;
  logger?: Logger;
}

export interface MergeOutcome {
  run: string;
  journals: string[];
  records: SampleRecord[];
  entry: LeaderboardEntry;
  entryFile: string;
  /** The multi-line warning when an attack's checks flagged it; print it last. */
  checkWarning?: string;
}

/** Journals named by run directories or journal paths. */
export function collectJournals(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const inp of inputs) {
    if (!fs.existsSync(inp)) throw new MissingFileError(inp, 'expected a run directory or a journal*.jsonl file');
    if (fs.statSync(inp).isDirectory()) {
      const found = fs
        .readdirSync(inp)
        .filter((f) => JOURNAL_RE.test(f))
        .sort();
      if (!found.length) throw new MissingFileError(path.join(inp, 'journal*.jsonl'), 'the run directory has no journals');
      out.push(...found.map((f) => path.join(inp, f)));
    } else out.push(inp);
  }
  return [...new Set(out.map((f) => path.resolve(f)))];
}

export function mergeRun(inputs: readonly string[], options: MergeOptions = {}): MergeOutcome {
  const logger = options.logger ?? silentLogger;
  const journals = collectJournals(inputs);
  // merge writes the run directory's results.jsonl and entry.json: it takes the lock an unsharded run takes.
  const runDir = path.dirname(journals[0] ?? path.resolve(inputs[0] ?? '.'));
  const lock = lockShard(runDir, UNSHARDED, `the entry of run directory ${runDir}`, logger);
  try {
    return mergeLocked(journals, inputs, options, logger);
  } finally {
    lock.release();
  }
}

function mergeLocked(journals: string[], inputs: readonly string[], options: MergeOptions, logger: Logger): MergeOutcome {
  let info: RunInfo | undefined;
  let infoDir = '';
  const byPosition = new Map<number, { record: SampleRecord; text: string; file: string }>();
  let identity: RunIdentity | undefined;
  let identityFrom: string | undefined;
  const metas = new Map<string, ShardMeta>();
  for (const file of journals) {
    const dir = path.dirname(file);
    const i = readRunInfo(dir);
    if (!info) {
      info = i;
      infoDir = dir;
    } else if (i.run !== info.run) {
      throw new DataFormatError(
        file,
        `belongs to run ${i.run}, but ${journals[0]} belongs to run ${info.run}; merge journals of one run only`,
      );
    }
    const { header, records } = readJournal(file);
    if (!header) throw new DataFormatError(file, 'empty journal (no header): this shard has not started');
    if (header.run !== info.run) throw new DataFormatError(file, `journal header names run ${header.run}, its run.json names ${info.run}`);
    if (header.subset.hash !== info.dataset.indicesHash || header.subset.n !== info.dataset.n || header.batchSize !== info.batchSize) {
      throw new DataFormatError(file, 'journal header does not match run.json (subset size, subset hash or batch size)');
    }
    const m = JOURNAL_RE.exec(path.basename(file));
    const named = m?.[1] ? { index: Number(m[2]), count: Number(m[3]) } : UNSHARDED;
    if (header.shard.index !== named.index || header.shard.count !== named.count) {
      throw new DataFormatError(
        file,
        `journal header names shard ${header.shard.index}/${header.shard.count}, its file name shard ${named.index}/${named.count}`,
      );
    }
    if (!identityFrom) {
      identityFrom = file;
      identity = header.identity;
    } else {
      const changes = identity || header.identity ? identityChanges(identity, header.identity ?? { files: [], modules: [] }) : [];
      if (!identity !== !header.identity || changes.length) {
        throw new RunChangedError(
          file,
          changes.length ? changes : ['one of the two journals records no input identity (written by an older dbp-bench)'],
          `was computed with other inputs than ${identityFrom} (changes from the latter to the former)`,
          'Rerun the shards whose journals are out of date with --restart, then merge again.',
        );
      }
    }
    // Every record is checked against the run's rules and its journal's shard before it is merged.
    const checked = checkRecords(records, recordRules(info, header.shard), file);
    if (checked.duplicates)
      logger.warn(`${file}: ${checked.duplicates} sample record(s) journaled twice (identical); each is counted once`);
    for (const r of checked.records) {
      const text = canonicalJson(r);
      const prev = byPosition.get(r.position);
      if (prev && prev.text !== text) {
        throw new DataFormatError(
          file,
          `sample at position ${r.position} (dataset index ${r.index}) differs from its record in ${prev.file}; the journals were not produced by the same deterministic run`,
        );
      }
      if (!prev) byPosition.set(r.position, { record: r, text, file });
    }
    const metaPath = path.join(dir, m?.[1] ? `meta${m[1]}.json` : 'meta.json');
    if (fs.existsSync(metaPath)) metas.set(path.resolve(metaPath), JSON.parse(fs.readFileSync(metaPath, 'utf8')) as ShardMeta);
    else logger.warn(`${metaPath} not found: provenance of that shard is missing`);
  }
  if (!info) throw new MissingFileError(inputs.join(', '), 'no journals to merge');
  const n = info.dataset.n;
  const missing: number[] = [];
  for (let p = 0; p < n; p++) if (!byPosition.has(p)) missing.push(p);
  if (missing.length) {
    throw new DataFormatError(
      infoDir,
      `${missing.length} of ${n} samples have no record (first missing positions: ${missing.slice(0, 10).join(', ')}); finish or resume the shards that cover them, then merge again`,
    );
  }
  const extra = [...byPosition.keys()].filter((p) => p < 0 || p >= n);
  if (extra.length) throw new DataFormatError(infoDir, `records at positions outside the subset: ${extra.slice(0, 10).join(', ')}`);
  const records = [...byPosition.values()].map((v) => v.record).sort((a, b) => a.position - b.position);
  for (const r of records) {
    if (r.index !== info.dataset.indices[r.position])
      throw new DataFormatError(
        infoDir,
        `record at position ${r.position} is for dataset index ${r.index}, the subset has ${info.dataset.indices[r.position]} there`,
      );
  }
  const metaList = [...metas.values()].sort((a, b) => a.shard.index - b.shard.index);
  // The entry records the identity the journals share (run.json is rewritten by the last shard to start).
  const merged: RunInfo = identity
    ? {
        ...info,
        identity,
        classifier: { ...info.classifier, sha256: identity.files.find((f) => f.role === 'classifier.weights')?.sha256 ?? null },
      }
    : info;
  const fin = finalizeRun(
    merged,
    records,
    metaList,
    infoDir,
    options.entriesDir ?? null,
    'dbp-bench merge',
    options.out ? path.resolve(options.out) : undefined,
  );
  logger.info(`merged ${journals.length} journal(s), ${records.length} samples of run ${info.run} -> ${fin.entryFile}`);
  const checkWarning = attackCheckWarning(fin.entry.results.attacks, records.length, `merged run ${info.run}`);
  return { run: info.run, journals, records, entry: fin.entry, entryFile: fin.entryFile, ...(checkWarning ? { checkWarning } : {}) };
}
