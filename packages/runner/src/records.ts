/**
 * Per-sample records of a benchmark run (one JSON line each in the journal and the results file) and
 * their aggregation into accuracies with Wilson intervals.
 *
 * Evaluation protocol per sample (ALGORITHMS.md §6.4, §11 items 3 and 5):
 * - clean: R purifications; `mean` = fraction of correct draws.
 * - attacks in order, each only on survivors (samples whose running robust fraction is > 0);
 *   after attack k the running fraction becomes min(previous, fraction of the R draws on the
 *   adversarial example that are correct) — ADDT's "Fixed AutoAttack" rule; with R = 1 this is the
 *   usual worst case over attacks.
 * - `robust` = the running fraction after the last attack; the entry's robust accuracy is its mean
 *   over samples. `worst` (all R draws correct) and `majority` (plurality vote) are tracked alongside.
 */
import { DataFormatError, canonicalJson } from '@dbp-bench/framework';
import type { RunIdentity } from './identity';
import { accuracyMetric, type AttackChecks, type AttackCheckFlag, type AttackResult, type Metric } from '@dbp-bench/leaderboard';

/** The outcome of R purifications of one input. */
export interface DrawRecord {
  /** Predicted class per draw. */
  predictions: number[];
  /** Fraction of draws that are correct. */
  mean: number;
  /** All draws correct. */
  worst: boolean;
  /** The label wins the plurality vote (a tie is not robust). */
  majority: boolean;
}

export interface AttackRecord {
  name: string;
  /** False when the sample was no survivor (already fooled) and the attack did not run on it. */
  ran: boolean;
  /** The R-draw evaluation of the adversarial example (absent when not ran). */
  eval?: DrawRecord;
  /** Size of the perturbation (absent when not ran). */
  distance?: { linf: number; l2: number };
  /** Did the attack actually attack this sample (absent when not ran; see SampleChecks). */
  checks?: SampleChecks;
  /** Running robust fraction / worst / majority after this attack. */
  robust: number;
  robustWorst: boolean;
  robustMajority: boolean;
}

export interface SampleRecord {
  type: 'sample';
  /** Position in the run's subset (0-based). */
  position: number;
  /** Dataset index. */
  index: number;
  label: number;
  clean: DrawRecord;
  attacks: AttackRecord[];
  /** Final running robust fraction. */
  robust: number;
}

/**
 * Per-sample checks that an attack really moved the sample (docs/RUNNER.md, "Attack checks"). A sample
 * counts as robust after an attack when its running robust fraction is still > 0.
 */
export interface SampleChecks {
  /** The attack's first input gradient on this sample was all zero or non-finite; null: the attack reported nothing. */
  gradientVanished: boolean | null;
  /** The attack returned the clean input on purpose (its selection found nothing better); exempt from the two checks below. */
  keptClean: boolean;
  /** Counted robust with a perturbation that is zero or below one step (min(step size, eps)). */
  stalled: boolean;
  /** l_inf: counted robust with ||delta||_inf below the budget (eps minus a tolerance); null for l_2. */
  belowBudget: boolean | null;
}

/** Relative tolerance of the stall and budget checks (float32 rounding of x + delta). */
export const CHECK_TOLERANCE = 1e-3;
/** An attack is flagged `stalled` when its stalled or vanished samples exceed this fraction of the run's samples. */
export const STALLED_FRACTION = 0.01;

/**
 * The checks of one sample: `distance` is ||delta|| in the attack's norm, `robust` the running robust
 * fraction after the attack, `step` the attack's step size (null: unknown, then only a zero
 * perturbation is a stall).
 */
export function sampleChecks(
  a: { norm: 'linf' | 'l2'; eps: number; step: number | null },
  distance: number,
  robust: number,
  reported: { gradientVanished: boolean | null; keptClean: boolean },
): SampleChecks {
  const counted = robust > 0 && !reported.keptClean && a.eps > 0;
  const stepLimit = a.step !== null && a.step > 0 ? Math.min(a.step, a.eps) * (1 - CHECK_TOLERANCE) : 0;
  const budgetLimit = a.eps - Math.max(1e-6, CHECK_TOLERANCE * a.eps);
  return {
    gradientVanished: reported.gradientVanished,
    keptClean: reported.keptClean,
    stalled: counted && (distance === 0 || distance < stepLimit),
    belowBudget: a.norm === 'linf' ? counted && distance < budgetLimit : null,
  };
}

/** First line of every journal: which run and shard it belongs to. */
export interface JournalHeader {
  type: 'header';
  version: 1;
  run: string;
  shard: { index: number; count: number };
  subset: { n: number; hash: string };
  batchSize: number;
  /** Hashes of the weights files and plugin modules the records are computed with (absent in journals of older versions). */
  identity?: RunIdentity;
}

export type JournalLine = JournalHeader | SampleRecord;

/** Judge R predictions against a label. */
export function drawRecord(label: number, predictions: readonly number[]): DrawRecord {
  const nCorrect = predictions.filter((p) => p === label).length;
  const votes = new Map<number, number>();
  for (const p of predictions) votes.set(p, (votes.get(p) ?? 0) + 1);
  let bestOther = 0;
  for (const [cls, v] of votes) if (cls !== label) bestOther = Math.max(bestOther, v);
  return {
    predictions: [...predictions],
    mean: nCorrect / predictions.length,
    worst: nCorrect === predictions.length,
    majority: nCorrect > bestOther,
  };
}

export interface AggregatedResults {
  n: number;
  clean: Metric;
  cleanWorstOfR: Metric;
  attacks: AttackResult[];
  robust: Metric;
}

/**
 * Count the checks of attack `k` over records. Flags: `stalled` when the samples that are stalled or
 * have a vanished gradient (each counted once) exceed STALLED_FRACTION of all `records`;
 * `below-budget` (l_inf) when most samples counted robust (kept-clean ones aside) stay below eps.
 */
export function countChecks(records: readonly SampleRecord[], k: number, norm?: 'linf' | 'l2'): AttackChecks {
  const linf = norm ? norm === 'linf' : records.some((r) => r.attacks[k]?.checks?.belowBudget != null);
  let ran = 0,
    robust = 0,
    reported = 0,
    vanished = 0,
    stalled = 0,
    unmoved = 0,
    keptClean = 0,
    below = 0,
    unchecked = 0;
  for (const r of records) {
    const a = r.attacks[k];
    if (!a?.ran) continue;
    ran++;
    const c = a.checks;
    if (!c) {
      unchecked++;
      continue;
    }
    if (c.gradientVanished !== null) reported++;
    if (c.gradientVanished) vanished++;
    if (c.stalled) stalled++;
    if (c.stalled || c.gradientVanished) unmoved++;
    if (c.keptClean) keptClean++;
    else if (a.robust > 0) robust++;
    if (c.belowBudget) below++;
  }
  const flags: AttackCheckFlag[] = [];
  if (unmoved > STALLED_FRACTION * records.length) flags.push('stalled');
  if (linf && robust > 0 && below > robust / 2) flags.push('below-budget');
  return {
    ran,
    robust,
    reported,
    gradientVanished: vanished,
    stalled,
    unmoved,
    keptClean,
    belowBudget: linf ? below : null,
    unchecked,
    flags,
  };
}

/** Accuracies over records (sorted or not), with 95% Wilson intervals, and the attack checks. */
export function aggregate(
  records: readonly SampleRecord[],
  attacks: readonly { name: string; id: string; norm?: 'linf' | 'l2' }[],
): AggregatedResults {
  const n = records.length;
  const sum = (f: (r: SampleRecord) => number): number => records.reduce((a, r) => a + f(r), 0);
  const results: AttackResult[] = attacks.map((a, k) => ({
    name: a.name,
    id: a.id,
    accuracy: accuracyMetric(
      sum((r) => r.attacks[k].robust),
      n,
    ),
    worstOfR: accuracyMetric(
      sum((r) => (r.attacks[k].robustWorst ? 1 : 0)),
      n,
    ),
    majorityOfR: accuracyMetric(
      sum((r) => (r.attacks[k].robustMajority ? 1 : 0)),
      n,
    ),
    attacked: sum((r) => (r.attacks[k].ran ? 1 : 0)),
    checks: countChecks(records, k, a.norm),
  }));
  return {
    n,
    clean: accuracyMetric(
      sum((r) => r.clean.mean),
      n,
    ),
    cleanWorstOfR: accuracyMetric(
      sum((r) => (r.clean.worst ? 1 : 0)),
      n,
    ),
    attacks: results,
    robust: accuracyMetric(
      sum((r) => r.robust),
      n,
    ),
  };
}

/**
 * The loud warning for attacks whose checks flagged them (null when none did): one line per finding,
 * for stderr at the end of a run or merge. `n` is the number of samples the counts are over.
 */
export function attackCheckWarning(
  attacks: readonly { name: string; id: string; checks?: AttackChecks }[],
  n: number,
  where: string,
): string | null {
  const bad = attacks.filter((a) => a.checks && a.checks.flags.length > 0);
  if (!bad.length) return null;
  const pct = (k: number): string => `${((100 * k) / Math.max(1, n)).toFixed(1)}%`;
  const lines = [
    `WARNING: ${where}: the robust accuracy is overstated. ${bad.length === 1 ? 'An attack' : `${bad.length} attacks`} counted samples as robust without really attacking them:`,
  ];
  for (const a of bad) {
    const c = a.checks!;
    if (c.flags.includes('stalled')) {
      lines.push(
        `  - attack '${a.name}' (${a.id}): ${c.unmoved} of ${n} samples (${pct(c.unmoved)}, limit ${100 * STALLED_FRACTION}%) were not moved: ` +
          `${c.gradientVanished} had an all-zero or non-finite first input gradient, ${c.stalled} were counted robust with a perturbation of zero or below one step`,
      );
    }
    if (c.flags.includes('below-budget')) {
      lines.push(
        `  - attack '${a.name}' (${a.id}): ${c.belowBudget} of the ${c.robust} samples counted robust never reached the l_inf budget (||delta||_inf < eps)`,
      );
    }
  }
  lines.push(
    '  Look for masked or broken gradients (a non-differentiable or stop-gradient defense, a faulty backend kernel) or a step size too small for the',
    '  number of steps. The entry is flagged (flags.stalledAttack, flags.unreliable; per attack: results.attacks[].checks).',
  );
  return lines.join('\n');
}

/** What every record of a journal must agree with: the run's plan (run.json) and the journal's shard. */
export interface RecordRules {
  /** The subset: the dataset index at each position. */
  indices: readonly number[];
  /** The positions this journal may hold, [start, end). */
  range: { start: number; end: number };
  /** Purifications per evaluation (predictions per draw record). */
  R: number;
  /** The run's attacks, in order. */
  attacks: readonly { name: string; norm?: 'linf' | 'l2'; eps?: number }[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isClass = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function drawProblems(d: unknown, label: number, R: number, where: string): string[] {
  if (!isObject(d) || !Array.isArray(d.predictions)) return [`${where} has no predictions`];
  const preds = d.predictions as unknown[];
  if (preds.length !== R) return [`${where} has ${preds.length} predictions, the run draws R = ${R}`];
  if (!preds.every(isClass)) return [`${where} has predictions that are not class indices: ${JSON.stringify(preds)}`];
  const e = drawRecord(label, preds as number[]);
  const out: string[] = [];
  if (d.mean !== e.mean)
    out.push(`${where}.mean is ${JSON.stringify(d.mean)}, its predictions ${JSON.stringify(preds)} give ${e.mean} for label ${label}`);
  if (d.worst !== e.worst) out.push(`${where}.worst is ${JSON.stringify(d.worst)}, its predictions give ${e.worst}`);
  if (d.majority !== e.majority) out.push(`${where}.majority is ${JSON.stringify(d.majority)}, its predictions give ${e.majority}`);
  return out;
}

/**
 * What is wrong with one record under the run's rules (empty: consistent). Checked: the position is in
 * the journal's plan and names the subset's dataset index; every draw record agrees with its
 * predictions (R of them) and the label; an attack ran exactly on survivors (running robust fraction
 * > 0), its running fraction / worst / majority follow from the previous ones and its evaluation
 * (the min rule), its perturbation is within the budget and its checks agree with it; the record's
 * robust fraction is the last running one, so a sample counted robust is clean-correct.
 */
export function recordProblems(r: unknown, rules: RecordRules): string[] {
  if (!isObject(r)) return ['is not a JSON object'];
  const { start, end } = rules.range;
  if (
    !Number.isInteger(r.position) ||
    (r.position as number) < start ||
    (r.position as number) >= end ||
    (r.position as number) >= rules.indices.length
  ) {
    return [`position ${JSON.stringify(r.position)} is outside this journal's plan (positions ${start}..${end - 1})`];
  }
  const position = r.position as number;
  const out: string[] = [];
  if (r.index !== rules.indices[position])
    out.push(
      `is for dataset index ${JSON.stringify(r.index)}, the run's subset has index ${rules.indices[position]} at position ${position}`,
    );
  if (!isClass(r.label)) return [...out, `label ${JSON.stringify(r.label)} is not a class index`];
  const label = r.label;
  out.push(...drawProblems(r.clean, label, rules.R, 'clean'));
  if (out.length) return out;
  const clean = r.clean as unknown as DrawRecord;
  if (!Array.isArray(r.attacks) || r.attacks.length !== rules.attacks.length) {
    return [`has ${Array.isArray(r.attacks) ? r.attacks.length : 'no'} attack records, the run has ${rules.attacks.length} attacks`];
  }
  let run = { robust: clean.mean, worst: clean.worst, majority: clean.majority };
  for (const [k, spec] of rules.attacks.entries()) {
    const a = r.attacks[k] as unknown;
    const where = `attack '${spec.name}'`;
    if (!isObject(a)) return [...out, `attacks[${k}] is not a JSON object`];
    if (a.name !== spec.name) return [...out, `attacks[${k}] is named ${JSON.stringify(a.name)}, the run's attack ${k} is '${spec.name}'`];
    const survivor = run.robust > 0;
    if (a.ran !== survivor) {
      out.push(
        survivor
          ? `${where} did not run although the sample survived (running robust fraction ${run.robust})`
          : `${where} ran on a sample already fooled in every draw`,
      );
      return out;
    }
    let expect = run;
    if (survivor) {
      const ev = drawProblems(a.eval, label, rules.R, `${where} eval`);
      if (ev.length) return [...out, ...ev];
      const e = a.eval as unknown as DrawRecord;
      expect = { robust: Math.min(run.robust, e.mean), worst: run.worst && e.worst, majority: run.majority && e.majority };
      const d = a.distance;
      if (
        !isObject(d) ||
        !(typeof d.linf === 'number' && d.linf >= 0 && Number.isFinite(d.linf)) ||
        !(typeof d.l2 === 'number' && d.l2 >= 0 && Number.isFinite(d.l2))
      ) {
        out.push(`${where} has no valid distance {linf, l2}`);
      } else if (spec.norm && spec.eps !== undefined) {
        const dist = d[spec.norm] as number;
        // The runner refuses ||delta|| > eps + 1e-6 and records 7 significant digits.
        if (dist > spec.eps + 1e-6 + 1e-6 * spec.eps)
          out.push(`${where}: ||delta||_${spec.norm === 'linf' ? 'inf' : '2'} = ${dist} exceeds the budget eps = ${spec.eps}`);
        const c = a.checks;
        if (c !== undefined) {
          if (
            !isObject(c) ||
            typeof c.keptClean !== 'boolean' ||
            typeof c.stalled !== 'boolean' ||
            !(c.gradientVanished === null || typeof c.gradientVanished === 'boolean')
          ) {
            out.push(`${where} has malformed checks ${JSON.stringify(c)}`);
          } else {
            const counted = (a.robust as number) > 0 && !c.keptClean && spec.eps > 0;
            if (c.stalled && !counted) out.push(`${where}: checks.stalled is true for a sample not counted robust`);
            if (!c.stalled && counted && dist === 0)
              out.push(`${where}: checks.stalled is false for a sample counted robust with a zero perturbation`);
            const below = spec.norm === 'linf' ? counted && dist < spec.eps - Math.max(1e-6, CHECK_TOLERANCE * spec.eps) : null;
            if (c.belowBudget !== below)
              out.push(`${where}: checks.belowBudget is ${JSON.stringify(c.belowBudget)}, its distance and robust fraction give ${below}`);
          }
        }
      }
    } else if (a.eval !== undefined || a.distance !== undefined || a.checks !== undefined) {
      out.push(`${where} did not run but records an evaluation, distance or checks`);
    }
    if (a.robust !== expect.robust) {
      out.push(
        `${where}: robust fraction ${JSON.stringify(a.robust)}, expected ${expect.robust} (${survivor ? `min of the previous ${run.robust} and its evaluation's ${(a.eval as DrawRecord).mean}` : 'unchanged: it did not run'})`,
      );
    }
    if (a.robustWorst !== expect.worst) out.push(`${where}: robustWorst ${JSON.stringify(a.robustWorst)}, expected ${expect.worst}`);
    if (a.robustMajority !== expect.majority)
      out.push(`${where}: robustMajority ${JSON.stringify(a.robustMajority)}, expected ${expect.majority}`);
    if (out.length) return out;
    run = expect;
  }
  if (r.robust !== run.robust) {
    out.push(
      `robust fraction ${JSON.stringify(r.robust)}, but ${rules.attacks.length ? 'the running fraction after the last attack' : 'the clean fraction'} is ${run.robust}`,
    );
  }
  if (typeof r.robust === 'number' && r.robust > clean.mean)
    out.push(`counted robust (${r.robust}) above its clean accuracy (${clean.mean})`);
  return out;
}

/**
 * Check a journal's sample records before anything is aggregated from them: deduplicate by position
 * (a record journaled twice, identically, counts once; two different records for one position are
 * refused) and check every record with recordProblems(). Throws a DataFormatError naming `file` and
 * the first bad sample (position and dataset index). Returns the records sorted by position and the
 * number of duplicate lines dropped.
 */
export function checkRecords(
  records: readonly SampleRecord[],
  rules: RecordRules,
  file: string,
): { records: SampleRecord[]; duplicates: number } {
  const byPosition = new Map<number, { record: SampleRecord; text: string }>();
  let duplicates = 0;
  const bad: { position: unknown; index: unknown; problems: string[] }[] = [];
  for (const r of records) {
    const problems = recordProblems(r, rules);
    if (problems.length) {
      bad.push({ position: (r as Partial<SampleRecord>)?.position, index: (r as Partial<SampleRecord>)?.index, problems });
      continue;
    }
    const text = canonicalJson(r);
    const prev = byPosition.get(r.position);
    if (!prev) byPosition.set(r.position, { record: r, text });
    else if (prev.text === text) duplicates++;
    else
      bad.push({
        position: r.position,
        index: r.index,
        problems: ['is journaled twice with different contents (two processes wrote this journal, or it was edited)'],
      });
  }
  if (bad.length) {
    const b = bad[0];
    throw new DataFormatError(
      file,
      `sample at position ${JSON.stringify(b.position)} (dataset index ${JSON.stringify(b.index)}) ${b.problems.join('; ')}` +
        `${bad.length > 1 ? ` (and ${bad.length - 1} more bad record${bad.length > 2 ? 's' : ''})` : ''}. ` +
        'The journal was edited or damaged, so nothing was aggregated; restore it, or recompute the shard with `dbp-bench run --restart`',
    );
  }
  return { records: [...byPosition.values()].map((v) => v.record).sort((a, b) => a.position - b.position), duplicates };
}
