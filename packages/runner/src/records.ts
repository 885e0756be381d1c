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
 *   over samples. `worst` (all R draws correct) and `majority` (plurality vote) are tracked alongside;
 *   `single` (the first of the R draws) is derived from the predictions.
 * - any-iteration (ALGORITHMS.md §14.4): every iterate an attack reports through its step hook is
 *   judged by the draws it classified there (its EoT copies: `iterates`); a sample is broken at any
 *   iteration if the criterion held at any iterate of any attack so far or at a final evaluation.
 *   `anyRobust` = min of the running fraction and every iterate's correct fraction, `anyWorst` = no
 *   wrong draw anywhere, `anyMajority` = the label won the plurality everywhere.
 */
import { DataFormatError, canonicalJson } from '@dbp-bench/framework';
import type { RunIdentity } from './identity';
import {
  accuracyMetric,
  type AnyIterationResult,
  type AttackChecks,
  type AttackCheckFlag,
  type AttackResult,
  type DrawHistogram,
  type Metric,
  type RobustnessCurve,
} from '@dbp-bench/leaderboard';

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

/**
 * The iterates an attack reported (its step hook), each judged by the draws it classified there.
 * Iterate g = restart · steps + step − 1: the point before the update of `step` in run `restart`
 * (0 = the starting point); the returned example is judged by the final evaluation instead.
 */
export interface IterateRecord {
  /** Draws (EoT copies) judged per iterate. */
  draws: number;
  /** Iterate indices, increasing. */
  iteration: number[];
  /** Correct draws at each iterate (0..draws). */
  correct: number[];
  /** The label won the plurality of the draws at each iterate (a tie is not a win). */
  majority: boolean[];
  /**
   * Where the draws come from: absent = the attack's own EoT copies at the iterate before each update
   * (g = restart · steps + step − 1); `independent` = N fresh purifications of the iterate each update
   * produced (g = restart · steps + step; `evaluation.inLoopDraws`, ALGORITHMS.md §14.4).
   */
  source?: 'independent';
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
  /** The iterates the attack reported on this sample (absent when not ran or when it reported none). */
  iterates?: IterateRecord;
  /** Any-iteration running fraction / worst / majority after this attack (absent in journals of older versions). */
  anyRobust?: number;
  anyWorst?: boolean;
  anyMajority?: boolean;
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

/** The label wins the plurality vote of `predictions` (strictly more votes than any other class). */
export function pluralityCorrect(label: number, predictions: ArrayLike<number>): boolean {
  const votes = new Map<number, number>();
  for (let i = 0; i < predictions.length; i++) votes.set(predictions[i], (votes.get(predictions[i]) ?? 0) + 1);
  let bestOther = 0;
  for (const [cls, v] of votes) if (cls !== label) bestOther = Math.max(bestOther, v);
  return (votes.get(label) ?? 0) > bestOther;
}

/** Judge R predictions against a label. */
export function drawRecord(label: number, predictions: readonly number[]): DrawRecord {
  const nCorrect = predictions.filter((p) => p === label).length;
  return {
    predictions: [...predictions],
    mean: nCorrect / predictions.length,
    worst: nCorrect === predictions.length,
    majority: pluralityCorrect(label, predictions),
  };
}

/** The any-iteration state of a sample: running fraction, no wrong draw, plurality always the label. */
export interface AnyState {
  robust: number;
  worst: boolean;
  majority: boolean;
}

/** The any-iteration state after an attack that ran: the previous state, every iterate, the final evaluation. */
export function nextAnyState(prev: AnyState, iterates: IterateRecord | undefined, final: DrawRecord): AnyState {
  let robust = Math.min(prev.robust, final.mean);
  let worst = prev.worst && final.worst;
  let majority = prev.majority && final.majority;
  if (iterates) {
    for (let t = 0; t < iterates.correct.length; t++) {
      robust = Math.min(robust, iterates.correct[t] / iterates.draws);
      worst = worst && iterates.correct[t] === iterates.draws;
      majority = majority && iterates.majority[t];
    }
  }
  return { robust, worst, majority };
}

export interface AggregatedResults {
  n: number;
  /** R: final purifications per evaluation. */
  draws: number;
  clean: Metric;
  cleanWorstOfR: Metric;
  cleanSingle: Metric;
  cleanMajority: Metric;
  cleanHistogram: DrawHistogram;
  attacks: AttackResult[];
  robust: Metric;
  robustSingle: Metric;
  robustWorst: Metric;
  robustMajority: Metric;
  /** Absent for journals without any-iteration state. */
  robustAnyIteration?: AnyIterationResult;
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
  const count = (f: (r: SampleRecord) => boolean): number => records.reduce((a, r) => a + (f(r) ? 1 : 0), 0);
  const R = records.length ? records[0].clean.predictions.length : 1;
  // single draw: the first of the R draws, correct on the clean input and at every evaluation so far
  const single = records.map((r) => r.clean.predictions[0] === r.label);
  // any-iteration state per sample (undefined for records of journals without it)
  const hasAny = records.every((r) => r.attacks.every((a) => a.anyRobust !== undefined));
  const results: AttackResult[] = attacks.map((a, k) => {
    records.forEach((r, i) => {
      const e = r.attacks[k].eval;
      if (r.attacks[k].ran && e) single[i] = single[i] && e.predictions[0] === r.label;
    });
    const ran = records.filter((r) => r.attacks[k].ran && r.attacks[k].eval);
    const res: AttackResult = {
      name: a.name,
      id: a.id,
      accuracy: accuracyMetric(
        sum((r) => r.attacks[k].robust),
        n,
      ),
      worstOfR: accuracyMetric(
        count((r) => r.attacks[k].robustWorst),
        n,
      ),
      majorityOfR: accuracyMetric(
        count((r) => r.attacks[k].robustMajority),
        n,
      ),
      single: accuracyMetric(single.filter(Boolean).length, n),
      histogram: drawHistogram(
        ran.map((r) => r.attacks[k].eval!),
        R,
      ),
      attacked: count((r) => r.attacks[k].ran),
      checks: countChecks(records, k, a.norm),
    };
    if (hasAny && n > 0) {
      res.anyIteration = anyIterationResult(records, k);
      const curve = robustnessCurve(records, k);
      if (curve) res.curve = curve;
    }
    return res;
  });
  const out: AggregatedResults = {
    n,
    draws: R,
    clean: accuracyMetric(
      sum((r) => r.clean.mean),
      n,
    ),
    cleanWorstOfR: accuracyMetric(
      count((r) => r.clean.worst),
      n,
    ),
    cleanSingle: accuracyMetric(
      count((r) => r.clean.predictions[0] === r.label),
      n,
    ),
    cleanMajority: accuracyMetric(
      count((r) => r.clean.majority),
      n,
    ),
    cleanHistogram: drawHistogram(
      records.map((r) => r.clean),
      R,
    ),
    attacks: results,
    robust: accuracyMetric(
      sum((r) => r.robust),
      n,
    ),
    robustSingle: accuracyMetric(single.filter(Boolean).length, n),
    robustWorst: results.length
      ? results[results.length - 1].worstOfR!
      : accuracyMetric(
          count((r) => r.clean.worst),
          n,
        ),
    robustMajority: results.length
      ? results[results.length - 1].majorityOfR!
      : accuracyMetric(
          count((r) => r.clean.majority),
          n,
        ),
  };
  const last = results[results.length - 1];
  if (last?.anyIteration) out.robustAnyIteration = last.anyIteration;
  return out;
}

/** counts[c] = draw records with exactly c of their `draws` predictions correct. */
export function drawHistogram(evals: readonly DrawRecord[], draws: number): DrawHistogram {
  const counts = new Array<number>(draws + 1).fill(0);
  for (const e of evals) counts[Math.round(e.mean * e.predictions.length)]++;
  return { draws, counts };
}

/** The any-iteration state of record `r` before attack `k` (the clean evaluation for k = 0). */
function anyBefore(r: SampleRecord, k: number): AnyState {
  if (k === 0) return { robust: r.clean.mean, worst: r.clean.worst, majority: r.clean.majority };
  const a = r.attacks[k - 1];
  return { robust: a.anyRobust!, worst: a.anyWorst!, majority: a.anyMajority! };
}

/** Any-iteration Avg.Rob / Wor.Rob / majority after attack `k` (source: the attacks' EoT copies, or independent draws). */
function anyIterationResult(records: readonly SampleRecord[], k: number): AnyIterationResult {
  const n = records.length;
  const draws = new Set(records.map((r) => r.attacks[k].iterates?.draws).filter((d): d is number => d !== undefined));
  const independent = records.some((r) => r.attacks[k].iterates?.source === 'independent');
  return {
    source: independent ? 'independent' : 'eot',
    draws: draws.size === 1 ? [...draws][0] : null,
    avgRob: accuracyMetric(
      records.reduce((s, r) => s + r.attacks[k].anyRobust!, 0),
      n,
    ),
    worRob: accuracyMetric(
      records.reduce((s, r) => s + (r.attacks[k].anyWorst ? 1 : 0), 0),
      n,
    ),
    majority: accuracyMetric(
      records.reduce((s, r) => s + (r.attacks[k].anyMajority ? 1 : 0), 0),
      n,
    ),
  };
}

const pct = (x: number): number => Math.round(x * 1e6) / 1e4;

/**
 * Robust accuracy against the iterations of attack `k`, over all samples: at iteration t, each sample
 * counts its any-iteration state before the attack combined with its iterates up to t; the last point
 * (one past the largest iterate) adds the final evaluations, so it equals the attack's anyIteration.
 * Null when no sample reported an iterate.
 */
export function robustnessCurve(records: readonly SampleRecord[], k: number): RobustnessCurve | null {
  const grid = [...new Set(records.flatMap((r) => r.attacks[k].iterates?.iteration ?? []))].sort((a, b) => a - b);
  if (!grid.length) return null;
  const finalIt = grid[grid.length - 1] + 1;
  const n = records.length;
  const avg = new Float64Array(grid.length + 1);
  const wor = new Float64Array(grid.length + 1);
  const maj = new Float64Array(grid.length + 1);
  for (const r of records) {
    const s = anyBefore(r, k);
    const it = r.attacks[k].iterates;
    let p = 0;
    for (let g = 0; g < grid.length; g++) {
      while (it && p < it.iteration.length && it.iteration[p] <= grid[g]) {
        s.robust = Math.min(s.robust, it.correct[p] / it.draws);
        s.worst = s.worst && it.correct[p] === it.draws;
        s.majority = s.majority && it.majority[p];
        p++;
      }
      avg[g] += s.robust;
      wor[g] += s.worst ? 1 : 0;
      maj[g] += s.majority ? 1 : 0;
    }
    const a = r.attacks[k];
    avg[grid.length] += a.anyRobust!;
    wor[grid.length] += a.anyWorst ? 1 : 0;
    maj[grid.length] += a.anyMajority ? 1 : 0;
  }
  return {
    iteration: [...grid, finalIt],
    avgRob: Array.from(avg, (v) => pct(v / n)),
    worRob: Array.from(wor, (v) => pct(v / n)),
    majority: Array.from(maj, (v) => pct(v / n)),
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
  /** N of `evaluation.inLoopDraws`: every iterate record is `independent` with N draws; absent: none is. */
  inLoopDraws?: number;
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

/** An iterate record whose source or draws are not the run's (`evaluation.inLoopDraws`). */
function iterateSourceProblems(it: unknown, inLoopDraws: number | undefined, where: string): string[] {
  if (!isObject(it)) return [];
  if (inLoopDraws === undefined)
    return it.source === undefined
      ? []
      : [`${where}.iterates.source is ${JSON.stringify(it.source)}, but the run has no evaluation.inLoopDraws`];
  if (it.source !== 'independent' || it.draws !== inLoopDraws)
    return [
      `${where}.iterates: source ${JSON.stringify(it.source ?? 'eot')} with ${JSON.stringify(it.draws)} draws, but the run judges every iterate by evaluation.inLoopDraws = ${inLoopDraws} independent draws`,
    ];
  return [];
}

/** What is wrong with an attack's iterate record (shape, ranges, order, plurality bounds). */
function iterateProblems(it: unknown, where: string): string[] {
  if (!isObject(it)) return [`${where}.iterates is not a JSON object`];
  const d = it.draws;
  if (!(Number.isInteger(d) && (d as number) >= 1)) return [`${where}.iterates.draws ${JSON.stringify(d)} is not a positive integer`];
  const draws = d as number;
  const { iteration, correct, majority } = it;
  if (it.source !== undefined && it.source !== 'independent')
    return [`${where}.iterates.source ${JSON.stringify(it.source)} is not 'independent' (absent: the attack's EoT copies)`];
  if (!Array.isArray(iteration) || !Array.isArray(correct) || !Array.isArray(majority))
    return [`${where}.iterates needs the arrays iteration, correct and majority`];
  if (correct.length !== iteration.length || majority.length !== iteration.length)
    return [`${where}.iterates: iteration, correct and majority have ${iteration.length}, ${correct.length}, ${majority.length} entries`];
  for (let t = 0; t < iteration.length; t++) {
    const g = iteration[t] as unknown;
    const c = correct[t] as unknown;
    const m = majority[t] as unknown;
    if (!Number.isInteger(g) || (g as number) < 0 || (t > 0 && (g as number) <= (iteration[t - 1] as number)))
      return [`${where}.iterates.iteration[${t}] = ${JSON.stringify(g)} is not a non-negative integer above the previous one`];
    if (!Number.isInteger(c) || (c as number) < 0 || (c as number) > draws)
      return [`${where}.iterates.correct[${t}] = ${JSON.stringify(c)} is not an integer in [0, ${draws}]`];
    if (typeof m !== 'boolean') return [`${where}.iterates.majority[${t}] is not a boolean`];
    // more than half of the draws correct wins the plurality; none correct cannot
    if ((2 * (c as number) > draws && !m) || (c === 0 && m))
      return [`${where}.iterates.majority[${t}] = ${m} contradicts ${JSON.stringify(c)} of ${draws} draws correct`];
  }
  return [];
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
  let any: AnyState = { robust: clean.mean, worst: clean.worst, majority: clean.majority };
  const withAny = (r.attacks as unknown[]).map((a) => isObject(a) && a.anyRobust !== undefined);
  if (withAny.some(Boolean) && !withAny.every(Boolean)) return [...out, 'records any-iteration state for some attacks only'];
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
    if (a.iterates !== undefined) {
      if (!survivor) out.push(`${where} did not run but records iterates`);
      else out.push(...iterateProblems(a.iterates, where), ...iterateSourceProblems(a.iterates, rules.inLoopDraws, where));
    }
    if (out.length) return out;
    if (withAny[k]) {
      const e = survivor
        ? nextAnyState(any, a.iterates as IterateRecord | undefined, a.eval as unknown as DrawRecord)
        : { robust: any.robust, worst: any.worst, majority: any.majority };
      if (a.anyRobust !== e.robust || a.anyWorst !== e.worst || a.anyMajority !== e.majority)
        out.push(
          `${where}: any-iteration state (${JSON.stringify(a.anyRobust)}, ${JSON.stringify(a.anyWorst)}, ${JSON.stringify(a.anyMajority)}), ` +
            `its iterates and evaluation give (${e.robust}, ${e.worst}, ${e.majority})`,
        );
      if (out.length) return out;
      any = e;
    }
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
