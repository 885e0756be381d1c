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
export function sampleChecks(a: { norm: 'linf' | 'l2'; eps: number; step: number | null }, distance: number, robust: number, reported: { gradientVanished: boolean | null; keptClean: boolean }): SampleChecks {
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
  return { predictions: [...predictions], mean: nCorrect / predictions.length, worst: nCorrect === predictions.length, majority: nCorrect > bestOther };
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
  let ran = 0, robust = 0, reported = 0, vanished = 0, stalled = 0, unmoved = 0, keptClean = 0, below = 0, unchecked = 0;
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
  return { ran, robust, reported, gradientVanished: vanished, stalled, unmoved, keptClean, belowBudget: linf ? below : null, unchecked, flags };
}

/** Accuracies over records (sorted or not), with 95% Wilson intervals, and the attack checks. */
export function aggregate(records: readonly SampleRecord[], attacks: readonly { name: string; id: string; norm?: 'linf' | 'l2' }[]): AggregatedResults {
  const n = records.length;
  const sum = (f: (r: SampleRecord) => number): number => records.reduce((a, r) => a + f(r), 0);
  const results: AttackResult[] = attacks.map((a, k) => ({
    name: a.name,
    id: a.id,
    accuracy: accuracyMetric(sum((r) => r.attacks[k].robust), n),
    worstOfR: accuracyMetric(sum((r) => (r.attacks[k].robustWorst ? 1 : 0)), n),
    majorityOfR: accuracyMetric(sum((r) => (r.attacks[k].robustMajority ? 1 : 0)), n),
    attacked: sum((r) => (r.attacks[k].ran ? 1 : 0)),
    checks: countChecks(records, k, a.norm),
  }));
  return {
    n,
    clean: accuracyMetric(sum((r) => r.clean.mean), n),
    cleanWorstOfR: accuracyMetric(sum((r) => (r.clean.worst ? 1 : 0)), n),
    attacks: results,
    robust: accuracyMetric(sum((r) => r.robust), n),
  };
}

/**
 * The loud warning for attacks whose checks flagged them (null when none did): one line per finding,
 * for stderr at the end of a run or merge. `n` is the number of samples the counts are over.
 */
export function attackCheckWarning(attacks: readonly { name: string; id: string; checks?: AttackChecks }[], n: number, where: string): string | null {
  const bad = attacks.filter((a) => a.checks && a.checks.flags.length > 0);
  if (!bad.length) return null;
  const pct = (k: number): string => `${((100 * k) / Math.max(1, n)).toFixed(1)}%`;
  const lines = [`WARNING: ${where}: the robust accuracy is overstated. ${bad.length === 1 ? 'An attack' : `${bad.length} attacks`} counted samples as robust without really attacking them:`];
  for (const a of bad) {
    const c = a.checks!;
    if (c.flags.includes('stalled')) {
      lines.push(
        `  - attack '${a.name}' (${a.id}): ${c.unmoved} of ${n} samples (${pct(c.unmoved)}, limit ${100 * STALLED_FRACTION}%) were not moved: ` +
          `${c.gradientVanished} had an all-zero or non-finite first input gradient, ${c.stalled} were counted robust with a perturbation of zero or below one step`,
      );
    }
    if (c.flags.includes('below-budget')) {
      lines.push(`  - attack '${a.name}' (${a.id}): ${c.belowBudget} of the ${c.robust} samples counted robust never reached the l_inf budget (||delta||_inf < eps)`);
    }
  }
  lines.push(
    '  Look for masked or broken gradients (a non-differentiable or stop-gradient defense, a faulty backend kernel) or a step size too small for the',
    '  number of steps. The entry is flagged (flags.stalledAttack, flags.unreliable; per attack: results.attacks[].checks).',
  );
  return lines.join('\n');
}

