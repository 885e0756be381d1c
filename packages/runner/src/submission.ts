/**
 * Re-checking a submitted measured entry against its per-sample results file (`leaderboard validate`):
 * the file lies where `run` writes it (next to the entry, inside the entries tree), its sha256 and
 * record count are the entry's, every record follows the run's rules (records.ts `recordProblems`),
 * the records are the subset the entry names (`dataset.indicesHash`), and the entry's numbers are the
 * ones its records give (`aggregate` mapped by `measuredResults`, exactly as `run` and `merge` build
 * the entry). Reported (imported) entries have no results file and are not re-checked here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DbpError, canonicalJson, sha256 } from '@dbp-bench/framework';
import { publishableResults, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { defaultDeps, type RunnerDeps } from './deps';
import { measuredResults } from './entry';
import { aggregate, recordProblems, type RecordRules, type SampleRecord } from './records';

export interface EntryResultsCheck {
  /** `checked`: a measured entry re-computed from its results file; `reported`: imported numbers, schema only. */
  status: 'checked' | 'reported';
  /** One line per problem, each naming the file (the entry or its results file) and the field or line. */
  problems: string[];
  /** The results file as resolved (absent for reported entries or when it could not be resolved). */
  resultsFile?: string;
  /** Records read from the results file. */
  records?: number;
}

/** At most this many differing fields are listed per entry (then a count of the rest). */
const MAX_DIFFS = 20;
/** At most this many bad records are listed per results file (then a count of the rest). */
const MAX_BAD_RECORDS = 5;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const canonical = (v: unknown): string => canonicalJson(v);

const isMetric = (v: unknown): v is Record<string, unknown> => isObject(v) && 'value' in v && 'n' in v && 'successes' in v;

/** A metric as one phrase: `25% (4 of 16, 95% CI [10.1821, 49.4983])`. */
function metricText(m: Record<string, unknown>): string {
  const ci = isObject(m.ci) ? `, 95% CI [${String(m.ci.lower)}, ${String(m.ci.upper)}]` : '';
  return `${JSON.stringify(m.value)}% (${JSON.stringify(m.successes)} of ${JSON.stringify(m.n)}${ci})`;
}

/**
 * The JSON paths where `got` (the entry) and `want` (re-computed) differ, with both values; a metric
 * that differs anywhere is one line.
 */
function jsonDiff(got: unknown, want: unknown, at: string, out: string[]): void {
  if (isMetric(got) && isMetric(want)) {
    if (canonical(got) !== canonical(want)) out.push(`${at}: the entry says ${metricText(got)}, the records give ${metricText(want)}`);
    return;
  }
  if (Array.isArray(got) && Array.isArray(want)) {
    if (got.length !== want.length) {
      out.push(`${at}: the entry has ${got.length} items, the records give ${want.length}`);
      return;
    }
    got.forEach((g, i) => jsonDiff(g, want[i], `${at}[${i}]`, out));
    return;
  }
  if (isObject(got) && isObject(want)) {
    for (const k of [...new Set([...Object.keys(want), ...Object.keys(got)])]) {
      if (!(k in got)) out.push(`${at}.${k}: missing in the entry, the records give ${JSON.stringify(want[k])}`);
      else if (!(k in want)) out.push(`${at}.${k}: the entry has ${JSON.stringify(got[k])}, the records give no such field`);
      else jsonDiff(got[k], want[k], `${at}.${k}`, out);
    }
    return;
  }
  if (got !== want) out.push(`${at}: the entry says ${JSON.stringify(got)}, the records give ${JSON.stringify(want)}`);
}

/** The record rules of a measured entry: R and the attacks from its protocol, positions 0..n-1 with the indices the records name. */
function entryRules(entry: LeaderboardEntry, records: readonly SampleRecord[]): RecordRules {
  const p = entry.protocol!;
  const indices: number[] = [];
  for (const r of records)
    if (Number.isInteger(r?.position) && r.position >= 0 && r.position < records.length) indices[r.position] = r.index;
  return {
    indices,
    range: { start: 0, end: records.length },
    R: p.purifications,
    attacks: p.attacks.map((a) => ({ name: a.name, ...(a.norm ? { norm: a.norm } : {}), ...(a.eps !== undefined ? { eps: a.eps } : {}) })),
  };
}

/**
 * Re-check entry `file` (already schema-validated as `entry`) against its results file. `root` is the
 * entries tree the file was found under (default: the entry's own directory); the results file must lie
 * inside it, as the site requires (`publishableResults`). Never throws for a bad submission: every
 * problem is a line of `problems`.
 */
export function checkEntryResults(
  file: string,
  entry: LeaderboardEntry,
  root?: string,
  deps: Pick<RunnerDeps, 'subsetHash'> = defaultDeps(),
): EntryResultsCheck {
  if (entry.kind === 'reported') return { status: 'reported', problems: [] };
  const problems: string[] = [];
  const rf = entry.resultsFile;
  if (!rf) {
    return {
      status: 'checked',
      problems: [
        `${file}: $.resultsFile: a measured entry comes with its per-sample results file (as \`dbp-bench run\` writes it, <id>.results.jsonl next to the entry) so that its numbers can be re-computed; this one names none`,
      ],
    };
  }
  if (!entry.protocol)
    return { status: 'checked', problems: [`${file}: $.protocol: a measured entry records its protocol (R and the attacks); it is null`] };
  let resultsFile: string | null;
  try {
    resultsFile = publishableResults(file, root ?? path.dirname(file), rf.path);
  } catch (e) {
    if (e instanceof DbpError) return { status: 'checked', problems: [e.message] };
    throw e;
  }
  if (!resultsFile) {
    return {
      status: 'checked',
      problems: [
        `${file}: $.resultsFile.path: ${path.resolve(path.dirname(file), rf.path)} not found (the results file goes next to the entry, as \`dbp-bench run\` writes it)`,
      ],
    };
  }
  const shown = path.join(path.dirname(file), rf.path);
  const bytes = fs.readFileSync(resultsFile);
  const hash = sha256(bytes);
  if (hash !== rf.sha256)
    problems.push(
      `${file}: $.resultsFile.sha256: the entry says ${rf.sha256}, ${shown} has sha256 ${hash} (the file or the entry was changed after the run)`,
    );
  // One JSON record per line, as resultsText writes them.
  const text = bytes.toString('utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const records: SampleRecord[] = [];
  const bad: string[] = [];
  lines.forEach((line, i) => {
    try {
      records.push(JSON.parse(line) as SampleRecord);
    } catch (e) {
      bad.push(`${shown}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
  if (bad.length)
    return { status: 'checked', problems: [...problems, ...bad.slice(0, MAX_BAD_RECORDS)], resultsFile, records: lines.length };
  if (records.length !== rf.records)
    problems.push(`${file}: $.resultsFile.records: the entry says ${rf.records}, ${shown} holds ${records.length} records`);
  if (records.length !== entry.dataset.n)
    problems.push(
      `${file}: $.dataset.n: the entry says ${JSON.stringify(entry.dataset.n)} samples, ${shown} holds ${records.length} records`,
    );
  // Every position 0..n-1 exactly once, in order (as run and merge write them).
  const positions = records.map((r) => (isObject(r) ? r.position : undefined));
  const firstOff = positions.findIndex((p, i) => p !== i);
  if (firstOff >= 0)
    problems.push(
      `${shown}: line ${firstOff + 1} has position ${JSON.stringify(positions[firstOff])}, expected ${firstOff} (one record per position of the subset, in order)`,
    );
  const rules = entryRules(entry, records);
  records.forEach((r, i) => {
    const ps =
      isObject(r) && r.type === 'sample'
        ? recordProblems(r, rules)
        : [`is not a sample record (type ${JSON.stringify(isObject(r) ? r.type : r)})`];
    if (ps.length)
      bad.push(
        `${shown}: line ${i + 1} (position ${JSON.stringify(isObject(r) ? r.position : undefined)}, dataset index ${JSON.stringify(isObject(r) ? r.index : undefined)}) ${ps.join('; ')}`,
      );
  });
  if (bad.length) {
    problems.push(...bad.slice(0, MAX_BAD_RECORDS));
    if (bad.length > MAX_BAD_RECORDS) problems.push(`${shown}: and ${bad.length - MAX_BAD_RECORDS} more bad records`);
  }
  if (problems.length) return { status: 'checked', problems, resultsFile, records: records.length };
  // The subset: the dataset indices in position order hash to the entry's indicesHash.
  const hashOfIndices = deps.subsetHash(rules.indices);
  if (hashOfIndices !== entry.dataset.indicesHash)
    problems.push(
      `${file}: $.dataset.indicesHash: the entry says ${JSON.stringify(entry.dataset.indicesHash ?? null)}, the dataset indices of ${shown} hash to ${hashOfIndices}`,
    );
  // The numbers: re-computed exactly as run and merge compute them.
  const agg = aggregate(records, entry.protocol.attacks);
  const attacked = entry.protocol.attacks.length > 0;
  const computed = measuredResults(agg, entry.protocol.purifications, attacked);
  const want = {
    // the headline numbers first: at most MAX_DIFFS differences are listed
    results: Object.assign({ robust: null, clean: null }, computed),
    measured: { clean: agg.clean.value, robust: attacked ? agg.robust.value : null },
    stalledAttack: agg.attacks.some((a) => (a.checks?.flags.length ?? 0) > 0),
  };
  const got = {
    results: entry.results,
    measured: { clean: entry.values.measured?.clean ?? null, robust: entry.values.measured?.robust ?? null },
    stalledAttack: entry.flags.stalledAttack ?? false,
  };
  // Compared as JSON (what the entry file holds): undefined fields drop out, numbers round-trip exactly.
  const diffs: string[] = [];
  const norm = (v: unknown): unknown => JSON.parse(JSON.stringify(v)) as unknown;
  jsonDiff(norm(got.results), norm(want.results), '$.results', diffs);
  jsonDiff(got.measured, want.measured, '$.values.measured', diffs);
  jsonDiff(got.stalledAttack, want.stalledAttack, '$.flags.stalledAttack', diffs);
  for (const d of diffs.slice(0, MAX_DIFFS)) problems.push(`${file}: ${d} (re-computed from ${shown})`);
  if (diffs.length > MAX_DIFFS) problems.push(`${file}: and ${diffs.length - MAX_DIFFS} more fields differ from what ${shown} gives`);
  return { status: 'checked', problems, resultsFile, records: records.length };
}
