/**
 * Inner maximisation of adversarial training on a plain classifier (no defense): PGD-k with l_inf
 * sign steps or l_2 normalised steps (Madry et al. 2018), on the cross-entropy (PGD-AT) or on
 * KL(p_clean || p_adv) (TRADES, Zhang et al. 2019). Inputs in [0,1]; budgets in [0,1] pixel units.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  NORMS,
  ascend,
  batchRandomStart,
  budgetRules,
  klSum,
  meanCrossEntropy,
  projectOntoThreat,
  type Classifier,
  type Norm,
} from '@dbp-bench/framework';

export interface InnerAttackOptions {
  readonly norm: Norm;
  /** Budget in [0,1] pixel units. */
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
  /** PGD-AT: uniform (l_inf) / uniform-in-ball (l_2) start; TRADES: x + 0.001 N(0, I) as the reference code. */
  readonly randomStart: boolean;
}

export const innerAttackSchema = (d: InnerAttackOptions, description: string) =>
  ({
    type: 'object',
    additionalProperties: false,
    default: {},
    description,
    properties: {
      norm: { enum: [...NORMS], default: d.norm },
      eps: { type: 'number', minimum: 0, default: d.eps, description: 'Budget in [0,1] pixel units (at most 1 for linf, 1000 for l2).' },
      stepSize: { type: 'number', exclusiveMinimum: 0, default: d.stepSize },
      steps: { type: 'integer', minimum: 0, default: d.steps },
      randomStart: { type: 'boolean', default: d.randomStart },
    },
    allOf: budgetRules(d.norm),
  }) as const;

/**
 * The inner maximisation's projection guard: the l_2 ball projection divides by ||delta||₂ + 1e-10
 * (the attacks divide by the norm itself; geometry.ts `projectBall`).
 */
export const INNER_PROJECTION_GUARD = 1e-10;

/** Project x_adv onto the budget around x and onto the [0,1] box. */
export function project(xAdv: tf.Tensor4D, x: tf.Tensor4D, o: Pick<InnerAttackOptions, 'norm' | 'eps'>): tf.Tensor4D {
  return projectOntoThreat(xAdv, x, o.norm, o.eps, INNER_PROJECTION_GUARD);
}

/** One step: ascend along `g` (geometry.ts: sign for l_inf, unit l_2 direction for l_2), then project. */
function step(xAdv: tf.Tensor4D, x: tf.Tensor4D, g: tf.Tensor4D, o: InnerAttackOptions): tf.Tensor4D {
  return tf.tidy(() => project(ascend(xAdv, g, o.norm, o.stepSize), x, o));
}

/**
 * PGD on the cross-entropy (Madry PGD-AT). The classifier is used as given (the caller sets its
 * mode); `seed` draws the random start. Returns x_adv (within budget and [0,1]); inputs are kept.
 */
export function pgdCrossEntropy(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, o: InnerAttackOptions, seed: number): tf.Tensor4D {
  // l_inf: x + U(-eps, eps); l_2: a uniform direction scaled by eps * U(0,1); both projected.
  let xAdv = !o.randomStart || o.eps === 0 ? x.clone() : batchRandomStart(x, o.norm, o.eps, seed, INNER_PROJECTION_GUARD);
  const gradFn = tf.grad((xa: tf.Tensor) => tf.mul(meanCrossEntropy(model.logits(xa as tf.Tensor4D), y), xa.shape[0]) as tf.Scalar);
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => step(xAdv, x, gradFn(xAdv) as tf.Tensor4D, o));
    xAdv.dispose();
    xAdv = next;
  }
  return xAdv;
}

/**
 * TRADES inner maximisation: start at x + 0.001 N(0, I), ascend KL(p_clean || p_adv) with
 * p_clean = softmax(model(x)) held fixed.
 */
export function tradesAttack(model: Classifier, x: tf.Tensor4D, o: InnerAttackOptions, seed: number): tf.Tensor4D {
  const pClean = tf.tidy(() => tf.softmax(model.logits(x)) as tf.Tensor2D);
  let xAdv = tf.tidy(() =>
    o.randomStart ? project(tf.add(x, tf.mul(tf.randomNormal(x.shape, 0, 1, 'float32', seed), 0.001)) as tf.Tensor4D, x, o) : x.clone(),
  );
  const gradFn = tf.grad((xa: tf.Tensor) => klSum(pClean, model.logits(xa as tf.Tensor4D)));
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => step(xAdv, x, gradFn(xAdv) as tf.Tensor4D, o));
    xAdv.dispose();
    xAdv = next;
  }
  pClean.dispose();
  return xAdv;
}
