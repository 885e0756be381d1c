/**
 * Leaderboard entries: the TypeScript shape of `schema/entry.schema.json`, validation on write and on
 * load, Wilson intervals, eps formatting, and where an entry lives in an entries directory
 * (`<entries>/<dataset>/<threat>/<id>.json`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ConfigValidationError,
  DataFormatError,
  LIMITS,
  MAX_BUDGET,
  SAFE_ID_PATTERN,
  isSafeId,
  readJsonChecked,
  statDirChecked,
  validateSchema,
  writeJsonAtomic,
  type JsonSchema,
} from '@dbp-bench/core';
import type { NoisePolicy, Norm } from '@dbp-bench/core';
import { urlProblem } from './url';

/** Path of the published JSON Schema of an entry. */
export const ENTRY_SCHEMA_FILE = path.resolve(__dirname, '../../schema/entry.schema.json');

let schemaCache: JsonSchema | undefined;
/** The entry JSON Schema (draft-07). */
export function entrySchema(): JsonSchema {
  if (!schemaCache) schemaCache = JSON.parse(fs.readFileSync(ENTRY_SCHEMA_FILE, 'utf8')) as JsonSchema;
  return schemaCache;
}

export interface Interval {
  lower: number;
  upper: number;
  level: number;
  method: 'wilson';
}
/** An accuracy in percent with its sample count and Wilson interval. */
export interface Metric {
  value: number;
  n: number | null;
  successes?: number | null;
  ci: Interval | null;
}
export interface SourcedValue {
  clean?: number | null;
  robust?: number | null;
  source: string;
  url?: string;
}
export type SanityFlagId = 'randomized-defense' | 'zero-gradient' | 'probabilities-not-logits' | 'budget-exceeded' | 'capability-mismatch';
export interface SanityFlag {
  id: SanityFlagId;
  message: string;
  attack?: string;
}
export interface ProtocolAttack {
  name: string;
  id: string;
  options: Record<string, unknown>;
  eot: number;
  steps: number | null;
  noisePolicy: NoisePolicy;
  gradient: string;
  norm?: Norm;
  eps?: number;
}
/** Why an attack's result is not to be trusted as robustness (see AttackChecks). */
export type AttackCheckFlag = 'stalled' | 'below-budget';

/**
 * Did the attack actually attack? Counts over the samples it ran on (measured entries; docs/RUNNER.md,
 * "Attack checks"). A sample "counted robust" has a running robust fraction > 0 after the attack.
 */
export interface AttackChecks {
  /** Samples the attack ran on. */
  ran: number;
  /** Of those, counted robust after it (kept-clean samples aside). */
  robust: number;
  /** Samples for which the attack reported its first gradient (gradientVanished not null). */
  reported: number;
  /** First input gradient all zero or non-finite. */
  gradientVanished: number;
  /** Counted robust with a perturbation that is zero or below one step (min(step size, eps)). */
  stalled: number;
  /** Stalled or gradient vanished, each sample once. */
  unmoved: number;
  /** Returned clean on purpose by the attack's own selection (exempt from the stall and budget checks). */
  keptClean: number;
  /** l_inf: counted robust with ||delta||_inf below eps (minus a tolerance); null for l_2. */
  belowBudget: number | null;
  /** Samples whose records carry no checks (journals of older versions). */
  unchecked: number;
  /** `stalled`: unmoved > 1% of the run's samples; `below-budget`: l_inf, most samples counted robust below eps. */
  flags: AttackCheckFlag[];
}

/** counts[c] = samples with exactly c of `draws` purifications correct (c = 0..draws). */
export interface DrawHistogram {
  draws: number;
  counts: number[];
}

/**
 * Any-iteration (in-loop) counts (ALGORITHMS.md §14.4): broken if the criterion held at any iterate of
 * this attack or an earlier one. `source` eot: the attack's own EoT copies at each iterate (draws null);
 * independent: `draws` extra purifications of every iterate.
 */
export interface AnyIterationResult {
  source: 'eot' | 'independent';
  draws: number | null;
  avgRob: Metric;
  worRob: Metric;
  majority: Metric;
}

/** Robust accuracy (percent, all n samples) against attack iteration, any-iteration counts up to each iteration. */
export interface RobustnessCurve {
  iteration: number[];
  avgRob: number[];
  worRob: number[];
  majority?: number[];
}

export interface AttackResult {
  name: string;
  id: string;
  /** Avg.Rob after the attack: mean fraction of the R final draws correct (running minimum over the attacks). */
  accuracy: Metric;
  /** Wor.Rob after the attack: all R draws correct here and at every earlier evaluation. */
  worstOfR?: Metric | null;
  majorityOfR?: Metric | null;
  /** The first of the R draws correct here and at every earlier evaluation. */
  single?: Metric | null;
  /** Correct draws out of R on the returned example, over the samples the attack ran on. */
  histogram?: DrawHistogram;
  anyIteration?: AnyIterationResult;
  curve?: RobustnessCurve;
  attacked?: number;
  checks?: AttackChecks;
}

/** A file whose content the results depend on (weights), with its sha256 (null: missing). */
export interface ProvenanceFile {
  role: string;
  path: string;
  sha256: string | null;
}
/** A module (package) that served a run: name, version, hash of its built files. */
export interface ProvenanceModule {
  name: string;
  version: string | null;
  sha256: string | null;
  files: number;
  serves: string[];
}

export interface LeaderboardEntry {
  $schema?: string;
  schemaVersion: 1;
  id: string;
  kind: 'measured' | 'reported';
  name: string;
  description?: string;
  paper?: { title?: string; authors?: string; url?: string; venue?: string } | null;
  dataset: { id: string; split?: string; n: number | null; subset?: Record<string, unknown> | null; indicesHash?: string | null };
  threatModel: { id: string; norm: 'linf' | 'l2' | 'none'; eps: { value: number; display: string } | null };
  defense: {
    id: string;
    family: 'dbp' | 'at' | 'none';
    options: Record<string, unknown>;
    capabilities?: { stochastic?: boolean; streams?: string[]; gradientModes?: string[]; networkCalls?: number } | null;
  };
  classifier: { architecture?: string | null; weights?: string | null; sha256?: string | null; additionalData?: boolean | null };
  results: {
    clean: Metric | null;
    cleanWorstOfR?: Metric | null;
    cleanSingle?: Metric | null;
    cleanMajority?: Metric | null;
    cleanHistogram?: DrawHistogram;
    /** R: final purifications per evaluated example. */
    draws?: number;
    attacks: AttackResult[];
    robust: Metric | null;
    robustSingle?: Metric | null;
    robustWorst?: Metric | null;
    robustMajority?: Metric | null;
    robustAnyIteration?: AnyIterationResult;
  };
  values: { reported: SourcedValue | null; measured: SourcedValue | null; bestKnown: SourcedValue | null };
  protocol: {
    attacks: ProtocolAttack[];
    purifications: number;
    batchSize?: number;
    survivors?: string;
    aggregation?: string;
    reduced?: boolean;
    notes?: string;
    description?: string;
  } | null;
  flags: {
    randomized: boolean | null;
    forwardPasses: number | null;
    unreliable: boolean;
    reducedProtocol: boolean;
    additionalData?: boolean | null;
    sanity: SanityFlag[];
    /** An attack stalled (see results.attacks[].checks): its robust accuracy is overstated. */
    stalledAttack?: boolean;
  };
  provenance: {
    source: 'dbp-bench run' | 'dbp-bench merge' | 'robustbench import';
    frameworkVersion?: string;
    gitCommit?: string | null;
    commitSource?: 'environment' | 'git' | 'build-info' | 'unknown';
    files?: ProvenanceFile[];
    modules?: ProvenanceModule[];
    backend?: { name: string; version: string; package?: string; threads?: number } | null;
    hardware?: { cpuModel?: string; cpuCount?: number; memoryBytes?: number; platform?: string; arch?: string; hosts?: number } | null;
    seeds?: Record<string, number>;
    datasetIndicesHash?: string | null;
    runHash?: string;
    shards?: number;
    startTime?: string;
    endTime?: string;
    importedFrom?: string;
    importedAt?: string;
  };
  resultsFile: { path: string; sha256: string; records: number } | null;
  footnote?: string;
}

/** The fields of an entry that hold a link URL (every `#/definitions/httpUrl` of the schema), with their values. */
export function urlFields(e: LeaderboardEntry): [field: string, value: unknown][] {
  const out: [string, unknown][] = [];
  if (e.paper && e.paper.url !== undefined) out.push(['$.paper.url', e.paper.url]);
  for (const k of ['reported', 'measured', 'bestKnown'] as const) {
    const v = e.values?.[k];
    if (v && v.url !== undefined) out.push([`$.values.${k}.url`, v.url]);
  }
  return out;
}

/**
 * The fields of an entry that become path segments (`<dataset>/<threat>/<id>.json`, the site's page
 * names) and are not safe segments (SAFE_ID_PATTERN: a letter or digit, then letters, digits, . _ -,
 * at most 128 characters). Checked by the schema; checked again here for entries that did not come
 * through validation.
 */
export function idProblems(e: Pick<LeaderboardEntry, 'id' | 'dataset' | 'threatModel'>): string[] {
  const fields: [string, unknown][] = [
    ['$.id', e.id],
    ['$.dataset.id', e.dataset?.id],
    ['$.threatModel.id', e.threatModel?.id],
  ];
  return fields
    .filter(([, v]) => !isSafeId(v))
    .map(([f, v]) => `${f}: ${JSON.stringify(v)} is not a safe path segment (must match ${SAFE_ID_PATTERN})`);
}

/** Tolerance on percentages compared across fields (values are rounded to 4 decimals). */
const PCT_TOL = 1e-3;

/**
 * The consistency rules of an entry that JSON Schema cannot express; one line per problem, each
 * starting with the JSON path of the offending field. `validateEntry` applies them after the schema.
 *
 * - every metric: successes <= n, value = 100 * successes / n, value inside its interval, and n at
 *   most the dataset's n;
 * - the budget: eps in (0, 1] for l_inf and (0, 1000] for l_2 (MAX_BUDGET), null for norm 'none'
 *   (also for each protocol attack);
 * - attack checks: every count at most `ran`, `ran` at most `attacked`, `unmoved` between
 *   max(stalled, gradientVanished) and their sum; a flagged attack sets flags.stalledAttack, and
 *   flags.stalledAttack sets flags.unreliable;
 * - measured entries: every metric counts dataset.n samples, the results file holds at most
 *   dataset.n records, and accuracy never rises along the attacks (clean >= attack 1 >= ... = robust).
 */
export function entryProblems(e: LeaderboardEntry): string[] {
  const problems: string[] = [];
  const datasetN = e.dataset.n;
  const metric = (x: Metric | null | undefined, where: string): void => {
    if (!x) return;
    if (x.ci && x.ci.lower > x.ci.upper) problems.push(`${where}.ci: lower bound ${x.ci.lower} is above the upper bound ${x.ci.upper}`);
    if (x.ci && !(x.ci.lower <= x.value + 1e-9 && x.value <= x.ci.upper + 1e-9))
      problems.push(`${where}: value ${x.value} lies outside its interval [${x.ci.lower}, ${x.ci.upper}]`);
    if (x.n !== null && x.successes !== null && x.successes !== undefined) {
      if (x.successes > x.n + 1e-6) problems.push(`${where}.successes: ${x.successes} is more than n = ${x.n}`);
      else if (x.n > 0 && Math.abs(x.value - (100 * x.successes) / x.n) > PCT_TOL) {
        problems.push(
          `${where}.value: ${x.value} is not 100 * successes / n = 100 * ${x.successes} / ${x.n} = ${round((100 * x.successes) / x.n)}`,
        );
      }
    }
    if (x.n === 0 && x.value !== 0) problems.push(`${where}.value: ${x.value} with n = 0 (nothing was evaluated)`);
    if (x.n !== null && datasetN !== null && x.n > datasetN) problems.push(`${where}.n: ${x.n} is more than the dataset's n = ${datasetN}`);
    if (e.kind === 'measured' && x.n !== null && datasetN !== null && x.n !== datasetN)
      problems.push(`${where}.n: ${x.n}, but a measured entry evaluates all dataset.n = ${datasetN} samples`);
  };
  const budget = (norm: string, eps: number | null | undefined, where: string): void => {
    if (eps === null || eps === undefined) return;
    if (norm === 'none') problems.push(`${where}: a budget (${eps}) with norm 'none'`);
    else if (norm === 'linf' || norm === 'l2') {
      const max = MAX_BUDGET[norm];
      if (!(eps > 0 && eps <= max)) problems.push(`${where}: ${eps} is outside (0, ${max}], the ${norm} budgets in [0,1] pixel units`);
    }
  };
  const t = e.threatModel;
  budget(t.norm, t.eps?.value, '$.threatModel.eps.value');
  e.protocol?.attacks.forEach((a, i) => budget(a.norm ?? t.norm, a.eps, `$.protocol.attacks[${i}].eps`));

  metric(e.results.clean, '$.results.clean');
  metric(e.results.cleanWorstOfR, '$.results.cleanWorstOfR');
  let flagged = false;
  e.results.attacks.forEach((a, i) => {
    const at = `$.results.attacks[${i}]`;
    metric(a.accuracy, `${at}.accuracy`);
    metric(a.worstOfR, `${at}.worstOfR`);
    metric(a.majorityOfR, `${at}.majorityOfR`);
    if (a.attacked !== undefined && datasetN !== null && a.attacked > datasetN)
      problems.push(`${at}.attacked: ${a.attacked} is more than the dataset's n = ${datasetN}`);
    const c = a.checks;
    if (c) {
      for (const k of ['robust', 'reported', 'gradientVanished', 'stalled', 'unmoved', 'keptClean', 'belowBudget', 'unchecked'] as const) {
        const v = c[k];
        if (v !== null && v > c.ran) problems.push(`${at}.checks.${k}: ${v} is more than ran = ${c.ran}`);
      }
      if (c.gradientVanished > c.reported)
        problems.push(`${at}.checks.gradientVanished: ${c.gradientVanished} is more than reported = ${c.reported}`);
      if (c.unmoved < Math.max(c.stalled, c.gradientVanished) || c.unmoved > c.stalled + c.gradientVanished) {
        problems.push(
          `${at}.checks.unmoved: ${c.unmoved} must lie between max(stalled, gradientVanished) = ${Math.max(c.stalled, c.gradientVanished)} and their sum ${c.stalled + c.gradientVanished}`,
        );
      }
      if (a.attacked !== undefined && c.ran > a.attacked) problems.push(`${at}.checks.ran: ${c.ran} is more than attacked = ${a.attacked}`);
      if (c.flags.length) flagged = true;
    }
  });
  metric(e.results.robust, '$.results.robust');
  // The randomized scoring fields (all optional): metrics, histograms, any-iteration counts, curves.
  const r = e.results;
  for (const k of ['cleanSingle', 'cleanMajority', 'robustSingle', 'robustWorst', 'robustMajority'] as const)
    metric(r[k], `$.results.${k}`);
  const histogram = (h: DrawHistogram | undefined, where: string, total: number | null | undefined): void => {
    if (!h) return;
    if (h.counts.length !== h.draws + 1)
      problems.push(`${where}.counts: ${h.counts.length} entries, expected draws + 1 = ${h.draws + 1} (0..${h.draws} correct draws)`);
    if (r.draws !== undefined && h.draws !== r.draws) problems.push(`${where}.draws: ${h.draws}, but results.draws is ${r.draws}`);
    const sum = h.counts.reduce((a, b) => a + b, 0);
    if (total !== null && total !== undefined && sum !== total) problems.push(`${where}.counts: sum ${sum}, expected ${total}`);
  };
  const anyIteration = (x: AnyIterationResult | undefined, where: string, after: Metric | null | undefined): void => {
    if (!x) return;
    metric(x.avgRob, `${where}.avgRob`);
    metric(x.worRob, `${where}.worRob`);
    metric(x.majority, `${where}.majority`);
    if (x.worRob.value > x.avgRob.value + PCT_TOL)
      problems.push(
        `${where}.worRob: ${x.worRob.value} is above avgRob ${x.avgRob.value} (no wrong draw anywhere implies the mean fraction is 1)`,
      );
    if (after && x.avgRob.value > after.value + PCT_TOL)
      problems.push(
        `${where}.avgRob: ${x.avgRob.value} is above the after-attack accuracy ${after.value} (its final evaluation is counted too)`,
      );
  };
  histogram(r.cleanHistogram, '$.results.cleanHistogram', e.kind === 'measured' ? r.clean?.n : undefined);
  r.attacks.forEach((a, i) => {
    const at = `$.results.attacks[${i}]`;
    metric(a.single, `${at}.single`);
    histogram(a.histogram, `${at}.histogram`, a.attacked);
    anyIteration(a.anyIteration, `${at}.anyIteration`, a.accuracy);
    const c = a.curve;
    if (c) {
      const n = c.iteration.length;
      if (c.avgRob.length !== n || c.worRob.length !== n || (c.majority && c.majority.length !== n))
        problems.push(`${at}.curve: iteration, avgRob, worRob and majority must have the same length (${n})`);
      if (c.iteration.some((v, j) => j > 0 && v <= c.iteration[j - 1])) problems.push(`${at}.curve.iteration: must increase`);
      if (
        c.avgRob.some((v, j) => j > 0 && v > c.avgRob[j - 1] + PCT_TOL) ||
        c.worRob.some((v, j) => j > 0 && v > c.worRob[j - 1] + PCT_TOL)
      )
        problems.push(`${at}.curve: any-iteration robust accuracy cannot rise with the iterations`);
      if (a.anyIteration && n && Math.abs(c.avgRob[n - 1] - a.anyIteration.avgRob.value) > PCT_TOL)
        problems.push(`${at}.curve.avgRob: ends at ${c.avgRob[n - 1]}, the attack's anyIteration.avgRob is ${a.anyIteration.avgRob.value}`);
    }
  });
  anyIteration(r.robustAnyIteration, '$.results.robustAnyIteration', r.robust);
  if (flagged && !e.flags.stalledAttack)
    problems.push('$.flags.stalledAttack: an attack is flagged (results.attacks[].checks.flags) but stalledAttack is not true');
  if (e.flags.stalledAttack && !e.flags.unreliable)
    problems.push('$.flags.unreliable: must be true when flags.stalledAttack is true (the robust accuracy is overstated)');

  if (e.kind === 'measured') {
    if (e.resultsFile && datasetN !== null && e.resultsFile.records > datasetN)
      problems.push(`$.resultsFile.records: ${e.resultsFile.records} is more than the dataset.n = ${datasetN} samples the entry evaluates`);
    let prev = e.results.clean?.value;
    let prevAt = '$.results.clean';
    e.results.attacks.forEach((a, i) => {
      if (prev !== undefined && a.accuracy.value > prev + PCT_TOL)
        problems.push(
          `$.results.attacks[${i}].accuracy.value: ${a.accuracy.value} is above ${prevAt} (${prev}); robust accuracy is the worst case over the attacks so far`,
        );
      prev = a.accuracy.value;
      prevAt = `$.results.attacks[${i}].accuracy`;
    });
    const last = e.results.attacks[e.results.attacks.length - 1];
    if (last && e.results.robust && Math.abs(e.results.robust.value - last.accuracy.value) > PCT_TOL) {
      problems.push(`$.results.robust.value: ${e.results.robust.value} differs from the last attack's accuracy ${last.accuracy.value}`);
    }
  }
  return problems;
}

/**
 * Validate an entry against the schema, then what the schema cannot say: URLs parsed with the WHATWG
 * parser (see url.ts) and the consistency rules (entryProblems); throws ConfigValidationError naming
 * `what` and every problem with its JSON path.
 */
export function validateEntry(entry: unknown, what = 'leaderboard entry'): LeaderboardEntry {
  const e = validateSchema<LeaderboardEntry>(entrySchema(), entry, what) as unknown as LeaderboardEntry;
  const problems: string[] = [];
  for (const [field, value] of urlFields(e)) {
    const p = urlProblem(value);
    if (p) problems.push(`${field}: ${p}`);
  }
  problems.push(...entryProblems(e));
  if (problems.length) throw new ConfigValidationError(what, problems);
  return e;
}

/** Validate, then write atomically (pretty-printed JSON). */
export function writeEntry(file: string, entry: LeaderboardEntry): void {
  validateEntry(entry, file);
  writeJsonAtomic(file, entry);
}

/** Read and validate one entry file (at most LIMITS.entryBytes; errors name the file). */
export function readEntry(file: string): LeaderboardEntry {
  return validateEntry(readJsonChecked(file, 'a leaderboard entry JSON file', LIMITS.entryBytes), file);
}

/** An entry with the file it was read from and the entries directory it was found under. */
export interface LoadedEntry {
  file: string;
  entry: LeaderboardEntry;
  /** The entries tree (the directory given to loadEntries): the site publishes files only from inside it. */
  root?: string;
}

/**
 * Refuse two entries with the same id for the same dataset and threat model (they would share a page
 * of the site): a DataFormatError naming both files. `leaderboard build` and `leaderboard validate`
 * both apply it.
 */
export function assertUniqueEntryIds(entries: readonly { entry: LeaderboardEntry; file?: string }[]): void {
  const seen = new Map<string, string | undefined>();
  for (const { entry, file } of entries) {
    const key = JSON.stringify([entry.dataset.id, entry.threatModel.id, entry.id]);
    if (seen.has(key)) {
      const first = seen.get(key);
      throw new DataFormatError(
        file ?? `entry '${entry.id}'`,
        `two entries have id '${entry.id}' for ${entry.dataset.id}/${entry.threatModel.id}${first ? ` (the first: ${first})` : ''}; entry ids must be unique per dataset and threat model`,
      );
    }
    seen.set(key, file);
  }
}

/**
 * Every `*.json` entry under `dir` (recursively), validated, sorted by path. A directory reached twice
 * through symbolic links is read once.
 */
export function loadEntries(dir: string): LoadedEntry[] {
  statDirChecked(dir, 'a directory of leaderboard entries');
  const files: string[] = [];
  const visited = new Set<string>();
  const walk = (d: string): void => {
    const real = fs.realpathSync(d);
    if (visited.has(real)) return;
    visited.add(real);
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.statSync(p);
      if (st.isDirectory()) walk(p);
      else if (name.endsWith('.json')) files.push(p);
    }
  };
  walk(dir);
  return files.map((file) => ({ file, entry: readEntry(file), root: dir }));
}

/**
 * Where an entry goes in an entries directory: `<dir>/<dataset>/<threat>/<id>.json`. Throws
 * ConfigValidationError when an id is not a safe path segment (`idProblems`), so no id can name a
 * place outside `<dir>`.
 */
export function entryPath(dir: string, entry: Pick<LeaderboardEntry, 'id' | 'dataset' | 'threatModel'>): string {
  const problems = idProblems(entry);
  if (problems.length) throw new ConfigValidationError(`leaderboard entry '${String(entry.id)}'`, problems);
  return path.join(dir, entry.dataset.id, entry.threatModel.id, `${entry.id}.json`);
}

/** Two-sided standard normal quantile for a 95% interval. */
export const Z95 = 1.959963984540054;

/**
 * Wilson score interval for `successes` out of `n` (successes may be fractional: a sum of per-sample
 * fractions; the interval is then conservative, since a fraction's variance is at most p(1-p)).
 * Returns fractions in [0, 1].
 */
export function wilson(successes: number, n: number, z = Z95): { lower: number; upper: number } {
  if (!(n > 0)) throw new RangeError(`wilson: n must be positive, got ${n}`);
  if (successes < 0 || successes > n) throw new RangeError(`wilson: successes ${successes} outside [0, ${n}]`);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lower: successes === 0 ? 0 : Math.max(0, centre - half), upper: successes === n ? 1 : Math.min(1, centre + half) };
}

/** Round to `d` decimals (keeps files readable and diffs stable). */
export function round(x: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

/** A percent metric from `successes` of `n`, with its 95% Wilson interval. */
export function accuracyMetric(successes: number, n: number): Metric {
  if (n === 0) return { value: 0, n: 0, successes: 0, ci: null };
  const { lower, upper } = wilson(successes, n);
  const value = round((100 * successes) / n);
  return {
    value,
    n,
    successes: round(successes, 6),
    ci: { lower: Math.min(value, round(100 * lower)), upper: Math.max(value, round(100 * upper)), level: 0.95, method: 'wilson' },
  };
}

/** A percent metric known only as a number (imported); the interval needs n. */
export function reportedMetric(value: number, n: number | null): Metric {
  if (n && n > 0) {
    const m = accuracyMetric((value / 100) * n, n);
    return { ...m, value: round(value), successes: null };
  }
  return { value: round(value), n: null, successes: null, ci: null };
}

/** `8/255` when eps is (close to) a multiple of 1/255, else the number itself. */
export function formatEps(eps: number): string {
  const k = eps * 255;
  if (eps > 0 && Math.abs(k - Math.round(k)) < 1e-6) return `${Math.round(k)}/255`;
  return String(Number(eps.toPrecision(6)));
}

/** Parse `8/255`, `0.5`, `0.031` into a number; throws on anything else. */
export function parseEps(text: string | number, what = 'eps'): number {
  if (typeof text === 'number' && Number.isFinite(text)) return text;
  const s = String(text).trim();
  const frac = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(s);
  if (frac) return Number(frac[1]) / Number(frac[2]);
  if (/^\d+(?:\.\d+)?(?:e-?\d+)?$/i.test(s)) return Number(s);
  throw new RangeError(`${what}: cannot read '${s}' as a budget (expected e.g. 8/255 or 0.5)`);
}

/** The threat-model directory id: `linf-8_255`, `l2-0.5`, or `clean`. */
export function threatId(norm: 'linf' | 'l2' | 'none', eps: number | null): string {
  if (norm === 'none' || eps === null) return 'clean';
  return `${norm}-${formatEps(eps).replace('/', '_')}`;
}

/** A display label for a threat model: `Linf, eps = 8/255`. */
export function threatLabel(t: LeaderboardEntry['threatModel']): string {
  if (t.norm === 'none' || !t.eps) return 'clean (no attack)';
  return `${t.norm === 'linf' ? 'Linf' : 'L2'}, eps = ${t.eps.display}`;
}

/** The headline robust accuracy of an entry: best-known, else measured/robust result. */
export function headlineRobust(e: LeaderboardEntry): number | null {
  return e.results.robust?.value ?? e.values.measured?.robust ?? null;
}
