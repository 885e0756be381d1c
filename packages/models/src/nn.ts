/**
 * Building blocks of the networks in plain tf ops (NHWC), written for fast input gradients on the
 * wasm backend (docs/PERFORMANCE.md): plain `tf.conv2d` + bias add (no fused or layers ops), group
 * norm as a 4-D mean over H,W followed by a group average, no 5-D transposes.
 *
 * Every parameter lives in a {@link ParamStore} under its PyTorch state-dict name, with the layout
 * needed to convert between PyTorch (conv OIHW, linear [out, in]) and tfjs (conv HWIO, linear [in, out]).
 */
import * as tf from '@tensorflow/tfjs-core';
import { hash32, philoxUniforms } from '@dbp-bench/framework';

/** How a parameter is laid out: `conv` (HWIO in tfjs, OIHW in files), `linear` ([in,out] / [out,in]) or `plain`. */
export type ParamLayout = 'conv' | 'linear' | 'plain';

export interface ParamEntry {
  readonly variable: tf.Variable;
  readonly layout: ParamLayout;
  /** False for buffers (batch-norm running statistics). */
  readonly trainable: boolean;
}

/** A variable from an initial tensor, which is then released (the variable keeps the data). */
function makeVariable(init: tf.Tensor, trainable: boolean): tf.Variable {
  const v = tf.variable(init, trainable);
  init.dispose();
  return v;
}

/** Thrown when a network would have more parameter values than withParameterBudget allows. */
export class ParameterBudgetError extends Error {
  constructor(
    readonly limit: number,
    readonly at: string,
  ) {
    super(`the network needs more than ${limit} parameter values (exceeded at '${at}')`);
    this.name = 'ParameterBudgetError';
  }
}

let budget: { max: number; used: number; stores: ParamStore[] } | undefined;

/**
 * Build networks inside `fn` with at most `max` parameter values in all: a parameter that would pass
 * the budget throws ParameterBudgetError before its memory is allocated, and every store created in
 * `fn` is disposed. Loading a weights file uses it (max = the values the file holds), so a hostile
 * config in a file's metadata cannot make dbp-bench allocate a huge network.
 */
export function withParameterBudget<T>(max: number, fn: () => T): T {
  if (budget) return fn();
  const b = { max, used: 0, stores: [] as ParamStore[] };
  budget = b;
  try {
    return fn();
  } catch (e) {
    for (const s of b.stores) s.dispose();
    throw e;
  } finally {
    budget = undefined;
  }
}

/** A named collection of parameters, created with PyTorch's default initialisation from a seed. */
export class ParamStore {
  readonly entries = new Map<string, ParamEntry>();
  private counter = 0;
  constructor(readonly seed: number) {
    budget?.stores.push(this);
  }

  /** Count `n` values against the active parameter budget (if any) before allocating them. */
  private reserve(n: number, name: string): void {
    if (!budget) return;
    budget.used += n;
    if (!(budget.used <= budget.max)) throw new ParameterBudgetError(budget.max, name);
  }

  private uniform(shape: number[], bound: number, name: string): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    this.reserve(n, name);
    const out = new Float32Array(n);
    philoxUniforms(out, this.counter++, hash32(name), 0x6d6f646c, this.seed >>> 0, Math.floor(this.seed / 4294967296) >>> 0);
    for (let i = 0; i < n; i++) out[i] = (out[i] * 2 - 1) * bound;
    return makeVariable(tf.tensor(out, shape, 'float32'), true);
  }

  private add(name: string, variable: tf.Variable, layout: ParamLayout, trainable = true): tf.Variable {
    if (this.entries.has(name)) throw new Error(`duplicate parameter name ${name}`);
    this.entries.set(name, { variable, layout, trainable });
    return variable;
  }

  /** A k×k convolution `name.weight` (HWIO) and optionally `name.bias`; U(±1/sqrt(fan_in)) init like torch. */
  conv(name: string, k: number, cin: number, cout: number, bias = true): Conv {
    const bound = 1 / Math.sqrt(cin * k * k);
    const w = this.add(`${name}.weight`, this.uniform([k, k, cin, cout], bound, `${name}.weight`), 'conv');
    const b = bias ? this.add(`${name}.bias`, this.uniform([cout], bound, `${name}.bias`), 'plain') : undefined;
    return { w, b };
  }

  /** A linear layer `name.weight` ([in,out]) and optionally `name.bias`. */
  linear(name: string, nin: number, nout: number, bias = true): Linear {
    const bound = 1 / Math.sqrt(nin);
    const w = this.add(`${name}.weight`, this.uniform([nin, nout], bound, `${name}.weight`), 'linear');
    const b = bias ? this.add(`${name}.bias`, this.uniform([nout], bound, `${name}.bias`), 'plain') : undefined;
    return { w, b };
  }

  /** A group norm's affine parameters `name.weight` (ones) and `name.bias` (zeros). */
  groupNorm(name: string, channels: number, groups: number, eps: number): GroupNormP {
    this.reserve(2 * channels, name);
    const gamma = this.add(`${name}.weight`, makeVariable(tf.ones([channels]), true), 'plain');
    const beta = this.add(`${name}.bias`, makeVariable(tf.zeros([channels]), true), 'plain');
    if (channels % groups !== 0) throw new Error(`${name}: ${channels} channels are not divisible into ${groups} groups`);
    return { gamma, beta, groups, eps };
  }

  /** A batch norm: weight, bias, and the buffers running_mean / running_var. */
  batchNorm(name: string, channels: number, eps = 1e-5, momentum = 0.1): BatchNormP {
    this.reserve(4 * channels, name);
    const gamma = this.add(`${name}.weight`, makeVariable(tf.ones([channels]), true), 'plain');
    const beta = this.add(`${name}.bias`, makeVariable(tf.zeros([channels]), true), 'plain');
    const mean = this.add(`${name}.running_mean`, makeVariable(tf.zeros([channels]), false), 'plain', false);
    const variance = this.add(`${name}.running_var`, makeVariable(tf.ones([channels]), false), 'plain', false);
    return { gamma, beta, mean, variance, eps, momentum };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.entries.values()].filter((e) => e.trainable).map((e) => e.variable);
  }
  namedWeights(): Map<string, tf.Variable> {
    return new Map([...this.entries].map(([k, e]) => [k, e.variable]));
  }
  parameterCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.trainable) n += e.variable.size;
    return n;
  }
  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    this.entries.clear();
  }
}

/**
 * A network whose parameters live in a {@link ParamStore}: train/eval mode and the parameter accessors
 * shared by the UNet and the classifiers.
 */
export abstract class ParamModule {
  protected readonly params: ParamStore;
  protected training = false;
  constructor(seed: number) {
    this.params = new ParamStore(seed);
  }
  setTraining(training: boolean): void {
    this.training = training;
  }
  get isTraining(): boolean {
    return this.training;
  }
  trainableVariables(): tf.Variable[] {
    return this.params.trainableVariables();
  }
  /** Parameters by PyTorch state-dict name (tfjs layouts: conv HWIO, linear [in, out]). */
  namedWeights(): Map<string, tf.Variable> {
    return this.params.namedWeights();
  }
  /** @internal layouts for weight IO */
  paramStore(): ParamStore {
    return this.params;
  }
  parameterCount(): number {
    return this.params.parameterCount();
  }
  dispose(): void {
    this.params.dispose();
  }
}

export interface Conv {
  w: tf.Variable;
  b?: tf.Variable;
}
export interface Linear {
  w: tf.Variable;
  b?: tf.Variable;
}
export interface GroupNormP {
  gamma: tf.Variable;
  beta: tf.Variable;
  groups: number;
  eps: number;
}
export interface BatchNormP {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
  eps: number;
  momentum: number;
}

/**
 * Convolution with PyTorch padding semantics. `pad` is the symmetric zero padding of torch's
 * Conv2d(padding=p); for stride 1 and p = (k-1)/2 this is tfjs 'same'.
 */
export function conv2d(x: tf.Tensor4D, p: Conv, stride = 1, pad = 0): tf.Tensor4D {
  const k = p.w.shape[0];
  let y: tf.Tensor4D;
  if (pad === 0) y = tf.conv2d(x, p.w as tf.Tensor4D, stride, 'valid');
  else if (stride === 1 && 2 * pad === k - 1) y = tf.conv2d(x, p.w as tf.Tensor4D, 1, 'same');
  else {
    const xp = tf.pad(x, [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ]);
    y = tf.conv2d(xp, p.w as tf.Tensor4D, stride, 'valid');
  }
  return p.b ? tf.add(y, p.b) : y;
}

/** x [..., in] times W [in, out] plus bias; 2-D input. */
export function linear(x: tf.Tensor2D, p: Linear): tf.Tensor2D {
  const y = tf.matMul(x, p.w as tf.Tensor2D) as tf.Tensor2D;
  return p.b ? (tf.add(y, p.b) as tf.Tensor2D) : y;
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** Per-channel [N, C] statistics averaged within each of `g` groups, as [N, 1, 1, C]. */
function groupAverage(m: tf.Tensor, n: number, c: number, g: number): tf.Tensor4D {
  const cg = c / g;
  if (cg === 1) return tf.reshape(m, [n, 1, 1, c]);
  return tf.reshape(tf.broadcastTo(tf.mean(tf.reshape(m, [n, g, cg]), 2, true), [n, g, cg]), [n, 1, 1, c]);
}

/**
 * Group norm over NHWC (torch.nn.GroupNorm semantics: biased variance over each group's channels
 * and all pixels), two-pass: per-channel means over H,W (one average pooling on wasm), averaged within
 * each group; then the variance of the centred input the same way.
 *
 * The gradient is written out (tf.customGrad) instead of being left to autodiff, which would build
 * it from ~25 full-size ops (the gradient of every mean materialises a tensor of ones): with
 * d = x - mu, rstd = 1/sqrt(var + eps), A = mean_hw(dy), B = mean_hw(dy * d) and avg_g the group
 * average,
 *   dx     = dy * (gamma rstd) - rstd avg_g(gamma A) - d * rstd^3 avg_g(gamma B)
 *   dgamma = HW sum_n rstd B,   dbeta = HW sum_n A
 * (five full-size ops and two reductions).
 */
export function groupNorm(x: tf.Tensor4D, p: GroupNormP): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = p.groups;
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xx, gamma, beta] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const mu = groupAverage(tf.mean(xx, [1, 2]), n, c, g);
    const d = tf.sub(xx, mu);
    const variance = groupAverage(tf.mean(tf.square(d), [1, 2]), n, c, g);
    const rstd = tf.rsqrt(tf.add(variance, p.eps)); // [N,1,1,C]
    // scale = gamma / sqrt(var + eps) on the small [N,1,1,C] tensor, then one full-size multiply-add.
    const scale = tf.mul(rstd, gamma);
    const y = tf.add(tf.mul(d, scale), beta) as tf.Tensor4D;
    save([d, rstd, gamma]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [dd, rs, gm] = saved;
        const a = tf.mean(dy, [1, 2]); // [N, C]
        const b = tf.mean(tf.mul(dy, dd), [1, 2]); // [N, C]
        const rs2 = tf.reshape(rs, [n, c]);
        const shift = tf.neg(tf.mul(rs, groupAverage(tf.mul(a, gm), n, c, g)));
        const slope = tf.neg(tf.mul(tf.pow(rs, 3), groupAverage(tf.mul(b, gm), n, c, g)));
        const dx = tf.add(tf.add(tf.mul(dy, tf.mul(rs, gm)), tf.mul(dd, slope)), shift);
        const hw = h * w;
        const dgamma = tf.mul(tf.sum(tf.mul(b, rs2), 0), hw);
        const dbeta = tf.mul(tf.sum(a, 0), hw);
        return [dx, dgamma, dbeta];
      },
    };
  });
  return f(x, p.gamma, p.beta) as tf.Tensor4D;
}

/**
 * Batch norm (torch.nn.BatchNorm2d). In training mode it normalises with the batch statistics and
 * updates the running statistics (momentum, unbiased variance); in eval mode it uses the running ones.
 */
export function batchNorm(x: tf.Tensor4D, p: BatchNormP, training: boolean): tf.Tensor4D {
  if (!training) {
    const scale = tf.mul(tf.rsqrt(tf.add(p.variance, p.eps)), p.gamma);
    const shift = tf.sub(p.beta, tf.mul(p.mean, scale));
    return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
  }
  const mean = tf.mean(x, [0, 1, 2]);
  const d = tf.sub(x, mean);
  const variance = tf.mean(tf.square(d), [0, 1, 2]);
  const count = x.size / x.shape[3];
  const m = p.momentum;
  const newMean = tf.tidy(() => tf.add(tf.mul(p.mean, 1 - m), tf.mul(mean, m)));
  const unbiased = count > 1 ? count / (count - 1) : 1;
  const newVar = tf.tidy(() => tf.add(tf.mul(p.variance, 1 - m), tf.mul(variance, m * unbiased)));
  p.mean.assign(newMean);
  p.variance.assign(newVar);
  newMean.dispose();
  newVar.dispose();
  return tf.add(tf.mul(tf.mul(d, tf.rsqrt(tf.add(variance, p.eps))), p.gamma), p.beta) as tf.Tensor4D;
}

/** Dropout active only when `training` is true (inverted scaling, as torch). */
export function dropout<T extends tf.Tensor>(x: T, rate: number, training: boolean): T {
  if (!training || rate <= 0) return x;
  return tf.dropout(x, rate) as T;
}

/** Nearest-neighbour 2x upsampling (torch F.interpolate(scale_factor=2, mode='nearest')). */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [h * 2, w * 2], false, false);
}

/**
 * conv3x3(upsampleNearest2x(x)) with torch padding 1, computed at the low resolution: output pixel
 * (2i+py, 2j+px) sees only low-res rows {i-1, i} (py = 0) or {i, i+1} (py = 1), and likewise columns,
 * so each of the four output phases is a 2x2 convolution of x whose taps are sums of the 3x3 taps
 * (rows: py = 0 -> [w0, w1 + w2], py = 1 -> [w0 + w1, w2]). 16 instead of 36 multiply-adds per low-res
 * pixel and channel pair; the phases are interleaved with two concatenations and reshapes. Equal to
 * the direct form up to float32 rounding (tested, values and gradients).
 */
export function upsampleConv3x3(x: tf.Tensor4D, p: Conv): tf.Tensor4D {
  const [n, h, w] = x.shape;
  const co = p.w.shape[3] as number;
  if (p.w.shape[0] !== 3 || p.w.shape[1] !== 3) throw new Error(`upsampleConv3x3 needs a 3x3 filter, got ${p.w.shape[0]}x${p.w.shape[1]}`);
  // taps along `axis` (size 3) folded into the two of phase 0 and of phase 1
  const fold = (f: tf.Tensor4D, axis: 0 | 1): [tf.Tensor4D, tf.Tensor4D] => {
    const [a, b, c] = tf.split(f, 3, axis) as tf.Tensor4D[];
    return [tf.concat([a, tf.add(b, c)], axis) as tf.Tensor4D, tf.concat([tf.add(a, b), c], axis) as tf.Tensor4D];
  };
  const rows = fold(p.w as tf.Tensor4D, 0);
  const rowsOfPhases = [0, 1].map((py) => {
    const cols = fold(rows[py], 1);
    const [pt, pb] = py === 0 ? [1, 0] : [0, 1];
    const phases = [0, 1].map((px) => {
      const [pl, pr] = px === 0 ? [1, 0] : [0, 1];
      const y = tf.conv2d(x, cols[px], 1, [
        [0, 0],
        [pt, pb],
        [pl, pr],
        [0, 0],
      ]);
      return p.b ? tf.add(y, p.b) : y;
    });
    // [N,H,W,(px,C)] is [N,H,(W,px),C]: the columns interleaved
    return tf.reshape(tf.concat(phases, 3), [n, h, 2 * w, co]);
  });
  // [N,H,(py,2W),C] is [N,(H,py),2W,C]: the rows interleaved
  return tf.reshape(tf.concat(rowsOfPhases, 2), [n, 2 * h, 2 * w, co]) as tf.Tensor4D;
}

/** Per-channel input normalisation (x - mean) / std. */
export function normalizeInput(x: tf.Tensor4D, mean: readonly number[], std: readonly number[]): tf.Tensor4D {
  if (mean.every((m) => m === 0) && std.every((s) => s === 1)) return x;
  return tf.div(tf.sub(x, tf.tensor1d(mean as number[])), tf.tensor1d(std as number[])) as tf.Tensor4D;
}
