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
import { accuracyMetric, type AttackResult, type Metric } from '@dbp-bench/leaderboard';

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

/** First line of every journal: which run and shard it belongs to. */
export interface JournalHeader {
  type: 'header';
  version: 1;
  run: string;
  shard: { index: number; count: number };
  subset: { n: number; hash: string };
  batchSize: number;
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

/** Accuracies over records (sorted or not), with 95% Wilson intervals. */
export function aggregate(records: readonly SampleRecord[], attacks: readonly { name: string; id: string }[]): AggregatedResults {
  const n = records.length;
  const sum = (f: (r: SampleRecord) => number): number => records.reduce((a, r) => a + f(r), 0);
  const results: AttackResult[] = attacks.map((a, k) => ({
    name: a.name,
    id: a.id,
    accuracy: accuracyMetric(sum((r) => r.attacks[k].robust), n),
    worstOfR: accuracyMetric(sum((r) => (r.attacks[k].robustWorst ? 1 : 0)), n),
    majorityOfR: accuracyMetric(sum((r) => (r.attacks[k].robustMajority ? 1 : 0)), n),
    attacked: sum((r) => (r.attacks[k].ran ? 1 : 0)),
  }));
  return {
    n,
    clean: accuracyMetric(sum((r) => r.clean.mean), n),
    cleanWorstOfR: accuracyMetric(sum((r) => (r.clean.worst ? 1 : 0)), n),
    attacks: results,
    robust: accuracyMetric(sum((r) => r.robust), n),
  };
}
