/**
 * Preflight: the sanity checks the runner runs before the first batch and after every attack
 * (STYLE.md §9 items 8, 10), on the attacks as planned from their declared protocols (plan.ts):
 *
 * - `randomized-defense`: two forward passes on the same input differ. Then every attack must declare
 *   EoT > 1 or a DW-box noise policy (fwd/rev/both), else SanityCheckError naming the attack.
 * - `capability-mismatch`: the defense's declared `stochastic` capability disagrees with what was seen.
 * - `probabilities-not-logits`: the classifier's outputs look like probabilities (rows in [0,1] summing to 1).
 * - `zero-gradient`: the loss gradient w.r.t. the input is exactly zero for some sample (the attack
 *   would not move: masked gradients), per (policy, gradient) setting of the attacks that declare they
 *   need input gradients.
 * - `budget-exceeded`: after each attack, ||x_adv - x|| <= eps + 1e-6 and x_adv in [0,1]; a violation
 *   throws SanityCheckError naming the attack.
 * The per-sample attack checks (stalled attacks, vanished gradients, l_inf budget never reached) are
 * in records.ts (`sampleChecks`, `countChecks`).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  SanityCheckError,
  eotRows,
  type AttackTarget,
  type Classifier,
  type Dataset,
  type Defense,
  type GradientMode,
  type Logger,
  type NoisePolicy,
} from '@dbp-bench/framework';
import type { SanityFlag } from '@dbp-bench/leaderboard';
import { defaultGradient, type RunAttack } from './plan';

export interface SanityInput {
  classifier: Classifier;
  defense: Defense;
  attacks: readonly RunAttack[];
  /** A few clean samples (the first of the subset). */
  x: tf.Tensor4D;
  y: Int32Array;
  indices: readonly number[];
  /** Build a target for a setting. */
  target(policy: NoisePolicy, gradient: GradientMode, seed: number): AttackTarget;
  seed: number;
  logger: Logger;
}

export interface SanityResult {
  randomized: boolean;
  flags: SanityFlag[];
}

/** Run the pre-flight checks; throws SanityCheckError for a randomized defense attacked without EoT or DW-box. */
export function runSanityChecks(s: SanityInput): SanityResult {
  const flags: SanityFlag[] = [];
  const rows = eotRows(s.indices, 1);
  // 1. randomness: two forward passes on the same input through a fresh-noise target.
  const t = s.target('fresh', defaultGradient(s.defense), s.seed);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(t.logits(s.x, rows), t.logits(s.x, rows)))).dataSync()[0]);
  const randomized = diff > 0;
  if (randomized) {
    flags.push({
      id: 'randomized-defense',
      message: `two forward passes on the same input differ (max |logit difference| ${diff.toPrecision(3)}); attacks use EoT or a DW-box noise policy`,
    });
  }
  if (randomized !== s.defense.capabilities.stochastic) {
    flags.push({
      id: 'capability-mismatch',
      message: `defense '${s.defense.id}' declares stochastic=${s.defense.capabilities.stochastic} but two forward passes ${randomized ? 'differ' : 'are identical'}`,
    });
  }
  if (randomized) {
    for (const a of s.attacks) {
      if (a.eot <= 1 && a.policy === 'fresh') {
        throw new SanityCheckError(
          'randomized-defense',
          `defense '${s.defense.id}' is randomized (two forward passes differ) but attack '${a.name}' (${a.id}) uses EoT ${a.eot} with fresh noise: ` +
            `declare EoT > 1 (e.g. its eot.samples option; expectation over transformation) or a DW-box noise policy (fwd, rev, both)`,
        );
      }
    }
  }
  // 2. probabilities instead of logits.
  const probs = tf.tidy(() => {
    const l = s.classifier.logits(s.x);
    const inRange = tf.logicalAnd(tf.greaterEqual(tf.min(l), 0), tf.lessEqual(tf.max(l), 1));
    const sums = tf.abs(tf.sub(tf.sum(l, 1), 1));
    return tf.logicalAnd(inRange, tf.lessEqual(tf.max(sums), 1e-4)).dataSync()[0];
  });
  if (probs)
    flags.push({
      id: 'probabilities-not-logits',
      message:
        'the classifier outputs look like probabilities (rows in [0,1] summing to 1); cross-entropy attacks on probabilities are weak',
    });
  // 3. zero gradients, once per distinct (policy, gradient) setting.
  const done = new Set<string>();
  const y = tf.tensor1d(s.y, 'int32');
  try {
    for (const a of s.attacks) {
      if (!a.protocol.requires.inputGradients) continue;
      const key = `${a.policy}/${a.gradient}`;
      if (done.has(key)) continue;
      done.add(key);
      const target = s.target(a.policy, a.gradient, s.seed);
      const zeros = tf.tidy(() => {
        const g = tf.grad((x: tf.Tensor) =>
          tf.losses.softmaxCrossEntropy(
            tf.oneHot(y, s.classifier.numClasses),
            target.logits(x as tf.Tensor4D, rows),
            undefined,
            0,
            tf.Reduction.SUM,
          ),
        )(s.x);
        return tf.equal(tf.max(tf.abs(g.reshape([g.shape[0], -1])), 1), 0).dataSync();
      });
      const count = Array.from(zeros).filter(Boolean).length;
      if (count > 0) {
        flags.push({
          id: 'zero-gradient',
          attack: a.name,
          message: `the loss gradient w.r.t. the input is exactly zero for ${count} of ${s.indices.length} checked samples (policy ${a.policy}, gradient ${a.gradient}): the attack cannot move; gradients may be masked`,
        });
      }
    }
  } finally {
    y.dispose();
  }
  for (const f of flags) s.logger.warn(`sanity: [${f.id}] ${f.message}`);
  return { randomized, flags };
}

/** Per-sample l_inf and l_2 distances of x_adv from x; throws SanityCheckError when over budget or out of [0,1]. */
export function checkBudget(
  a: Pick<RunAttack, 'name' | 'id' | 'norm' | 'eps'>,
  x: tf.Tensor4D,
  xAdv: tf.Tensor4D,
  indices: readonly number[],
): { linf: number; l2: number }[] {
  if (xAdv.shape.join(',') !== x.shape.join(',')) {
    throw new SanityCheckError(
      'budget-exceeded',
      `attack '${a.name}' (${a.id}) returned shape [${xAdv.shape.join(',')}] for input shape [${x.shape.join(',')}]`,
    );
  }
  const [linf, l2, lo, hi] = tf.tidy(() => {
    const d = tf.sub(xAdv, x).reshape([x.shape[0], -1]);
    return [
      tf.max(tf.abs(d), 1),
      tf.sqrt(tf.sum(tf.square(d), 1)),
      tf.min(xAdv.reshape([x.shape[0], -1]), 1),
      tf.max(xAdv.reshape([x.shape[0], -1]), 1),
    ].map((t) => t.dataSync());
  });
  const out: { linf: number; l2: number }[] = [];
  for (let i = 0; i < indices.length; i++) {
    const dist = a.norm === 'linf' ? linf[i] : l2[i];
    if (!(dist <= a.eps + 1e-6)) {
      throw new SanityCheckError(
        'budget-exceeded',
        `attack '${a.name}' (${a.id}) exceeded its budget on sample ${indices[i]}: ||x_adv - x||_${a.norm === 'linf' ? 'inf' : '2'} = ${dist} > eps ${a.eps} (+1e-6)`,
      );
    }
    if (!(lo[i] >= -1e-6 && hi[i] <= 1 + 1e-6)) {
      throw new SanityCheckError(
        'budget-exceeded',
        `attack '${a.name}' (${a.id}) returned pixels outside [0, 1] on sample ${indices[i]} (min ${lo[i]}, max ${hi[i]})`,
      );
    }
    out.push({ linf: Number(linf[i].toPrecision(7)), l2: Number(l2[i].toPrecision(7)) });
  }
  return out;
}

/**
 * The preflight of a run: the sanity checks on the first (up to two) samples of the subset, the same
 * for every shard, or a warning when `evaluation.sanityChecks` is false. Returns what run.json records.
 */
export async function preflight(p: {
  enabled: boolean;
  dataset: Dataset;
  indices: readonly number[];
  classifier: Classifier;
  defense: Defense;
  attacks: readonly RunAttack[];
  target: SanityInput['target'];
  seed: number;
  logger: Logger;
}): Promise<{ ran: boolean; randomized: boolean | null; flags: SanityFlag[] }> {
  if (!p.enabled) {
    p.logger.warn('sanity checks are disabled (evaluation.sanityChecks = false); the budget is still checked after every attack');
    return { ran: false, randomized: null, flags: [] };
  }
  const first = p.indices.slice(0, Math.min(2, p.indices.length));
  const b = await p.dataset.get(first);
  try {
    const r = runSanityChecks({
      classifier: p.classifier,
      defense: p.defense,
      attacks: p.attacks,
      x: b.images,
      y: b.labels,
      indices: first,
      target: p.target,
      seed: p.seed,
      logger: p.logger,
    });
    return { ran: true, randomized: r.randomized, flags: r.flags };
  } finally {
    b.images.dispose();
  }
}
