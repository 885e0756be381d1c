/**
 * Optimizers (SGD with momentum / Nesterov / weight decay, Adam, AdamW) and learning-rate schedules
 * (constant, step, cosine, each with linear warm-up), written to match PyTorch's update rules
 * (torch.optim.SGD, Adam, AdamW) and with state that can be saved and restored exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError, type OptionsOf } from '@dbp-bench/framework';

/** JSON Schema of the `optimizer` option. */
export const optimizerSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Optimizer; update rules follow torch.optim (SGD, Adam, AdamW).',
  properties: {
    type: { enum: ['sgd', 'adam', 'adamw'], default: 'adam' },
    lr: { type: 'number', exclusiveMinimum: 0, default: 1e-3, description: 'Base learning rate.' },
    momentum: { type: 'number', minimum: 0, maximum: 1, default: 0.9, description: 'SGD momentum.' },
    nesterov: { type: 'boolean', default: false, description: 'SGD Nesterov momentum.' },
    weightDecay: { type: 'number', minimum: 0, default: 0, description: 'L2 (sgd, adam) or decoupled (adamw) weight decay.' },
    betas: { type: 'array', items: { type: 'number', minimum: 0, exclusiveMaximum: 1 }, minItems: 2, maxItems: 2, default: [0.9, 0.999] },
    eps: { type: 'number', exclusiveMinimum: 0, default: 1e-8 },
  },
} as const;

/**
 * The optimizer options (the schema above, defaults filled): `lr` is the base learning rate (before
 * the schedule), `momentum` / `nesterov` SGD's, `weightDecay` an L2 penalty added to the gradient
 * (sgd, adam) or decoupled decay (adamw), `betas` / `eps` Adam's.
 */
export type OptimizerOptions = OptionsOf<typeof optimizerSchema>;
export type OptimizerType = OptimizerOptions['type'];

/** A parameter with its stable name (the model's state-dict name), used to name optimizer slots. */
export interface NamedParam {
  readonly name: string;
  readonly variable: tf.Variable;
}

/**
 * A first-order optimizer over a fixed list of parameters. `step(grads, lr)` applies one update;
 * `stateTensors()` / `loadState()` save and restore every slot and the step count bit-exactly.
 */
export class Optimizer {
  private t = 0;
  private readonly slots = new Map<string, tf.Variable>();
  constructor(
    readonly options: OptimizerOptions,
    readonly params: readonly NamedParam[],
  ) {
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new DbpError('E_ASSERT', `optimizer: two parameters are named '${p.name}'`);
      names.add(p.name);
    }
  }

  /** Number of updates applied so far. */
  get stepCount(): number {
    return this.t;
  }

  /** Names of the slots this optimizer keeps per parameter. */
  slotNames(): string[] {
    if (this.options.type === 'sgd') return this.options.momentum > 0 ? ['momentum_buffer'] : [];
    return ['exp_avg', 'exp_avg_sq'];
  }

  private slot(p: NamedParam, name: string): tf.Variable {
    const key = `${p.name}/${name}`;
    let v = this.slots.get(key);
    if (!v) {
      v = tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false, undefined, 'float32'));
      this.slots.set(key, v);
    }
    return v;
  }

  /** Apply one update with `grads[i]` the gradient of `params[i]` and learning rate `lr`. */
  step(grads: readonly tf.Tensor[], lr: number): void {
    if (grads.length !== this.params.length) {
      throw new DbpError('E_ASSERT', `optimizer.step: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    this.t++;
    const o = this.options;
    const [b1, b2] = [o.betas[0], o.betas[1]];
    tf.tidy(() => {
      this.params.forEach((p, i) => {
        const w = p.variable;
        let g: tf.Tensor = grads[i];
        if (o.type === 'sgd') {
          if (o.weightDecay > 0) g = tf.add(g, tf.mul(w, o.weightDecay));
          if (o.momentum > 0) {
            const buf = this.slot(p, 'momentum_buffer');
            // torch: buf = g on the first step, then momentum * buf + g (dampening 0); zeros-init gives the same.
            const nb = tf.add(tf.mul(buf, o.momentum), g);
            buf.assign(nb);
            g = o.nesterov ? tf.add(g, tf.mul(nb, o.momentum)) : nb;
          }
          w.assign(tf.sub(w, tf.mul(g, lr)));
          return;
        }
        let base: tf.Tensor = w;
        if (o.type === 'adamw') {
          if (o.weightDecay > 0) base = tf.mul(w, 1 - lr * o.weightDecay);
        } else if (o.weightDecay > 0) {
          g = tf.add(g, tf.mul(w, o.weightDecay));
        }
        const m = this.slot(p, 'exp_avg');
        const v = this.slot(p, 'exp_avg_sq');
        const nm = tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1));
        const nv = tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2));
        m.assign(nm);
        v.assign(nv);
        const bc1 = 1 - Math.pow(b1, this.t);
        const bc2 = 1 - Math.pow(b2, this.t);
        const denom = tf.add(tf.div(tf.sqrt(nv), Math.sqrt(bc2)), o.eps);
        w.assign(tf.sub(base, tf.mul(tf.div(nm, denom), lr / bc1)));
      });
    });
  }

  /** Every slot tensor by `<param name>/<slot name>` (views of the live variables; do not dispose). */
  stateTensors(): Map<string, tf.Tensor> {
    for (const p of this.params) for (const s of this.slotNames()) this.slot(p, s);
    return new Map(this.slots);
  }

  /** Restore slots and the step count saved by stateTensors(). */
  loadState(tensors: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, stepCount: number, source: string): void {
    for (const p of this.params) {
      for (const s of this.slotNames()) {
        const key = `${p.name}/${s}`;
        const saved = tensors.get(key);
        if (!saved)
          throw new DbpError(
            'E_FORMAT',
            `${source}: optimizer slot '${key}' is missing (was the checkpoint written with another optimizer type?)`,
          );
        const shape = p.variable.shape;
        if (saved.shape.length !== shape.length || saved.shape.some((d, j) => d !== shape[j])) {
          throw new DbpError(
            'E_SHAPE',
            `${source}: optimizer slot '${key}' has shape [${saved.shape.join(',')}], parameter has [${shape.join(',')}]`,
          );
        }
        const slot = this.slot(p, s);
        tf.tidy(() => slot.assign(tf.tensor(saved.data, shape as number[], 'float32')));
      }
    }
    this.t = stepCount;
  }

  dispose(): void {
    for (const v of this.slots.values()) v.dispose();
    this.slots.clear();
  }
}

// ------------------------------------------------------------------------------------------------
// Learning-rate schedules

export const scheduleSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Learning-rate schedule over the whole run, with optional linear warm-up.',
  properties: {
    type: { enum: ['constant', 'step', 'cosine'], default: 'constant' },
    warmupSteps: { type: 'integer', minimum: 0, default: 0 },
    milestones: {
      type: 'array',
      items: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
      default: [0.5, 0.75],
      description: '`step`: fractions of the run at which lr is multiplied by gamma.',
    },
    gamma: { type: 'number', exclusiveMinimum: 0, default: 0.1 },
    minLr: { type: 'number', minimum: 0, default: 0 },
  },
} as const;

/**
 * The learning-rate schedule options (the schema above, defaults filled): linear warm-up from
 * lr/warmupSteps over the first `warmupSteps` steps (0 = none); `step` multiplies lr by `gamma` at the
 * `milestones` (fractions of the run); `cosine` decays to `minLr`.
 */
export type ScheduleOptions = OptionsOf<typeof scheduleSchema>;
export type ScheduleType = ScheduleOptions['type'];

/** Learning rate of 0-based step `step` of a run of `total` steps. */
export function learningRate(schedule: ScheduleOptions, baseLr: number, step: number, total: number): number {
  const w = schedule.warmupSteps;
  if (w > 0 && step < w) return (baseLr * (step + 1)) / w;
  switch (schedule.type) {
    case 'constant':
      return baseLr;
    case 'step': {
      let lr = baseLr;
      for (const m of schedule.milestones) if (step >= Math.round(m * total)) lr *= schedule.gamma;
      return lr;
    }
    case 'cosine': {
      const p = Math.min(1, Math.max(0, (step - w) / Math.max(1, total - w)));
      return schedule.minLr + (baseLr - schedule.minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
  }
}

/**
 * Clip gradients to a global L2 norm as torch.nn.utils.clip_grad_norm_ does
 * (scale by maxNorm / (norm + 1e-6) when that is below 1). Returns the clipped gradients (new
 * tensors, or the inputs when no clipping is needed) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: readonly tf.Tensor[], maxNorm: number): { grads: tf.Tensor[]; norm: number } {
  const norm = tf.tidy(() => {
    const sq = grads.map((g) => tf.sum(tf.square(g)));
    return tf.sqrt(tf.addN(sq.length ? sq : [tf.scalar(0)]));
  });
  const n = norm.dataSync()[0];
  norm.dispose();
  if (!(maxNorm > 0)) return { grads: grads.slice(), norm: n };
  const coef = maxNorm / (n + 1e-6);
  if (coef >= 1) return { grads: grads.slice(), norm: n };
  return { grads: grads.map((g) => tf.mul(g, coef)), norm: n };
}
