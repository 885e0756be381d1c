/**
 * Attack-then-evaluate on one batch with the right target: the attack's noise policy decides which
 * streams are keyed, and the same target object serves the attack and the final evaluation.
 */
import type * as tf from '@tensorflow/tfjs-core';
import {
  IncompatiblePluginError,
  createTarget,
  silentLogger,
  type Attack,
  type Classifier,
  type Defense,
  type GradientMode,
  type Logger,
  type PolicyTarget,
} from '@dbp-bench/framework';
import { evaluateRandomized, summarizeEvaluation, type EvaluationSummary, type SampleEvaluation } from './evaluate';
import type { StepHook } from './types';

/**
 * A target for `attack`: the noise policy it declares (`attack.protocol().policy`), keyed by `seed`.
 * Use it for the attack and for the final evaluation.
 */
export function targetForAttack(
  attack: Attack,
  classifier: Classifier,
  defense: Defense,
  options: { seed?: number; gradient?: GradientMode; freshSeed?: number } = {},
): PolicyTarget {
  if (typeof (attack as Partial<Attack>).protocol !== 'function') {
    throw new IncompatiblePluginError(
      `attack '${attack.id}' does not declare its protocol: the Attack contract requires protocol() (framework AttackProtocol)`,
    );
  }
  return createTarget(classifier, defense, { ...options, policy: attack.protocol().policy });
}

export interface AttackAndEvaluateOptions {
  readonly seed?: number;
  /** Purifications per example in the final evaluation (default 1, as in the paper). */
  readonly draws?: number;
  readonly gradient?: GradientMode;
  readonly logger?: Logger;
  readonly onStep?: StepHook;
  /** Evaluation micro-batch (rows per forward). */
  readonly microBatch?: number;
}

export interface AttackAndEvaluateResult {
  readonly xAdv: tf.Tensor4D;
  readonly clean: SampleEvaluation[];
  readonly adversarial: SampleEvaluation[];
  readonly cleanSummary: EvaluationSummary;
  readonly robustSummary: EvaluationSummary;
  /** The target used (policy, seeds) for provenance. */
  readonly target: string;
  /** Notes the attack recorded (e.g. "DW_Fwd equals DW_Both" on DP_DDIM). */
  readonly notes: string[];
}

/**
 * Clean evaluation, attack, robust evaluation of one batch with R draws per example. The caller
 * disposes `xAdv`.
 */
export async function attackAndEvaluate(
  attack: Attack,
  classifier: Classifier,
  defense: Defense,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  sampleIndices: readonly number[],
  options: AttackAndEvaluateOptions = {},
): Promise<AttackAndEvaluateResult> {
  const seed = options.seed ?? 0;
  const R = options.draws ?? 1;
  const logger = options.logger ?? silentLogger;
  const target = targetForAttack(attack, classifier, defense, { seed, gradient: options.gradient });
  const clean = evaluateRandomized(target, x, y, sampleIndices, R, { logger, label: 'clean', microBatch: options.microBatch });
  const xAdv = await attack.perturb(target, x, y, { logger, sampleIndices, seed, onStep: options.onStep } as Parameters<
    Attack['perturb']
  >[3]);
  const adversarial = evaluateRandomized(target, xAdv, y, sampleIndices, R, { logger, label: 'robust', microBatch: options.microBatch });
  const notes = [...((attack as { notes?: string[] }).notes ?? [])];
  return {
    xAdv,
    clean,
    adversarial,
    cleanSummary: summarizeEvaluation(clean),
    robustSummary: summarizeEvaluation(adversarial),
    target: target.describe(),
    notes,
  };
}
