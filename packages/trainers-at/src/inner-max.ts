/**
 * Inner maximisation of adversarial training on a plain classifier (no defense): PGD-k with l_inf
 * sign steps or l_2 normalised steps (Madry et al. 2018), on the cross-entropy (PGD-AT) or on
 * KL(p_clean || p_adv) (TRADES, Zhang et al. 2019). Inputs in [0,1]; budgets in [0,1] pixel units.
 */
import * as tf from '@tensorflow/tfjs-core';
import { budgetRules, type Classifier, type Norm } from '@dbp-bench/framework';

export interface InnerAttackOptions {
  readonly norm: Norm;
  /** Budget in [0,1] pixel units. */
  readonly eps: number;
  readonly stepSize: number;
  readonly steps: number;
  /** PGD-AT: uniform (l_inf) / uniform-in-ball (l_2) start; TRADES: x + 0.001 N(0, I) as the reference code. */
  readonly randomStart: boolean;
}

export const innerAttackSchema = (d: InnerAttackOptions, description: string): Record<string, unknown> => ({
  type: 'object',
  additionalProperties: false,
  default: {},
  description,
  properties: {
    norm: { enum: ['linf', 'l2'], default: d.norm },
    eps: { type: 'number', minimum: 0, default: d.eps, description: 'Budget in [0,1] pixel units (at most 1 for linf, 1000 for l2).' },
    stepSize: { type: 'number', exclusiveMinimum: 0, default: d.stepSize },
    steps: { type: 'integer', minimum: 0, default: d.steps },
    randomStart: { type: 'boolean', default: d.randomStart },
  },
  allOf: budgetRules(d.norm),
});

const EPS_NORM = 1e-10;

function l2PerSample(t: tf.Tensor4D): tf.Tensor4D {
  return tf.sqrt(tf.sum(tf.square(t), [1, 2, 3], true)) as tf.Tensor4D;
}

/** Project x_adv onto the budget around x and onto the [0,1] box. */
export function project(xAdv: tf.Tensor4D, x: tf.Tensor4D, o: Pick<InnerAttackOptions, 'norm' | 'eps'>): tf.Tensor4D {
  return tf.tidy(() => {
    let d = tf.sub(xAdv, x) as tf.Tensor4D;
    if (o.norm === 'linf') d = tf.clipByValue(d, -o.eps, o.eps);
    else d = tf.mul(d, tf.minimum(1, tf.div(o.eps, tf.add(l2PerSample(d), EPS_NORM)))) as tf.Tensor4D;
    return tf.clipByValue(tf.add(x, d), 0, 1) as tf.Tensor4D;
  });
}

/** One ascent step along `g` (sign for l_inf, unit l_2 direction per sample for l_2). */
function ascend(xAdv: tf.Tensor4D, g: tf.Tensor4D, o: InnerAttackOptions): tf.Tensor4D {
  return tf.tidy(() => {
    const dir = o.norm === 'linf' ? tf.sign(g) : tf.div(g, tf.add(l2PerSample(g), EPS_NORM));
    return tf.add(xAdv, tf.mul(dir, o.stepSize)) as tf.Tensor4D;
  });
}

/** Sum over the batch of KL(p || softmax(logits)) with p given as probabilities. */
export function klSum(pClean: tf.Tensor2D, logitsAdv: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logP = tf.log(tf.maximum(pClean, 1e-12));
    return tf.sum(tf.mul(pClean, tf.sub(logP, tf.logSoftmax(logitsAdv)))) as tf.Scalar;
  });
}

/** Mean cross-entropy of logits against integer labels. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/**
 * PGD on the cross-entropy (Madry PGD-AT). The classifier is used as given (the caller sets its
 * mode); `seed` draws the random start. Returns x_adv (within budget and [0,1]); inputs are kept.
 */
export function pgdCrossEntropy(model: Classifier, x: tf.Tensor4D, y: tf.Tensor1D, o: InnerAttackOptions, seed: number): tf.Tensor4D {
  let xAdv = tf.tidy(() => {
    if (!o.randomStart || o.eps === 0) return x.clone();
    if (o.norm === 'linf') return project(tf.add(x, tf.randomUniform(x.shape, -o.eps, o.eps, 'float32', seed)) as tf.Tensor4D, x, o);
    // l_2: a uniform direction scaled by eps * U(0,1)
    const n = tf.randomNormal(x.shape, 0, 1, 'float32', seed) as tf.Tensor4D;
    const r = tf.randomUniform([x.shape[0], 1, 1, 1], 0, 1, 'float32', seed + 1);
    return project(tf.add(x, tf.mul(tf.div(n, tf.add(l2PerSample(n), EPS_NORM)), tf.mul(r, o.eps))) as tf.Tensor4D, x, o);
  });
  const gradFn = tf.grad((xa: tf.Tensor) => tf.mul(crossEntropy(model.logits(xa as tf.Tensor4D), y), xa.shape[0]) as tf.Scalar);
  for (let k = 0; k < o.steps; k++) {
    const next = tf.tidy(() => project(ascend(xAdv, gradFn(xAdv) as tf.Tensor4D, o), x, o));
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
    const next = tf.tidy(() => project(ascend(xAdv, gradFn(xAdv) as tf.Tensor4D, o), x, o));
    xAdv.dispose();
    xAdv = next;
  }
  pClean.dispose();
  return xAdv;
}
