/**
 * Tiny plugins for the runner tests: a deterministic 4x4 grey dataset, a linear classifier, an
 * identity, a noisy, a rounding and a zero-gradient (gradient-masking) defense, an identity with a
 * weights-file option, a sign-gradient PGD with EoT that declares its protocol (noise policy, EoT,
 * steps, step size), and an attack that breaks its budget. They run on the runner's real
 * dependencies (toyDeps): the real policy target and evaluation of @dbp-bench/attacks and the subset
 * selection of @dbp-bench/datasets, with the toy classifier in place of a weights file.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import {
  FILE_OPTION_KEYWORD,
  PluginRegistry,
  NOISE_POLICIES,
  SeededRng,
  eotRows,
  type Attack,
  type AttackContext,
  type AttackProtocol,
  type AttackTarget,
  type Batch,
  type Classifier,
  type Dataset,
  type Defense,
  type GradientMode,
  type NoiseRow,
  type NoisePolicy,
  type NoiseSource,
  type NoiseStreamKind,
} from '@dbp-bench/framework';
import { defaultDeps, type RunnerDeps } from '../src';

export const H = 4;
export const CLASSES = 3;
const D = H * H;

/** Fixed classifier weights (seeded). */
export function toyWeights(): { w: Float32Array; b: Float32Array } {
  const rng = new SeededRng(7, 'toy-classifier');
  const w = new Float32Array(D * CLASSES).map(() => rng.normal());
  const b = new Float32Array(CLASSES).map(() => 0.1 * rng.normal());
  return { w, b };
}

/** A linear classifier on flattened 4x4x1 images (logits = 4 * (x - 0.5) W + b). */
export class ToyClassifier implements Classifier {
  readonly numClasses = CLASSES;
  readonly arch = 'toy-linear';
  private readonly w: tf.Tensor2D;
  private readonly b: tf.Tensor1D;
  constructor(scale = 4) {
    const { w, b } = toyWeights();
    this.w = tf.tensor2d(
      w.map((v) => v * scale),
      [D, CLASSES],
    );
    this.b = tf.tensor1d(b);
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.add(tf.matMul(tf.sub(x, 0.5).reshape([x.shape[0], D]), this.w), this.b) as tf.Tensor2D);
  }
  dispose(): void {
    this.w.dispose();
    this.b.dispose();
  }
}

/** Images from a seeded RNG; label = the toy classifier's clean prediction, except every 5th image. */
class ToyDataset implements Dataset {
  readonly info;
  private readonly images: Float32Array;
  private readonly labels_: Int32Array;
  constructor(size: number) {
    this.info = {
      id: 'toy-data',
      split: 'test',
      size,
      shape: [H, H, 1] as const,
      numClasses: CLASSES,
      classNames: ['a', 'b', 'c'],
      source: 'seeded',
    };
    const rng = new SeededRng(3, 'toy-data');
    this.images = new Float32Array(size * D).map(() => rng.uniform());
    const { w, b } = toyWeights();
    this.labels_ = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      let best = 0;
      let bestV = -Infinity;
      for (let c = 0; c < CLASSES; c++) {
        let v = b[c];
        for (let j = 0; j < D; j++) v += 4 * (this.images[i * D + j] - 0.5) * w[j * CLASSES + c];
        if (v > bestV) {
          bestV = v;
          best = c;
        }
      }
      this.labels_[i] = i % 5 === 4 ? (best + 1) % CLASSES : best;
    }
  }
  async get(indices: readonly number[]): Promise<Batch> {
    const data = new Float32Array(indices.length * D);
    indices.forEach((idx, r) => data.set(this.images.subarray(idx * D, (idx + 1) * D), r * D));
    return { images: tf.tensor4d(data, [indices.length, H, H, 1]), labels: await this.labels(indices), indices: [...indices] };
  }
  async labels(indices: readonly number[]): Promise<Int32Array> {
    return Int32Array.from(indices.map((i) => this.labels_[i]));
  }
}

class IdentityToy implements Defense {
  readonly id: string = 'toy-identity';
  readonly capabilities = { stochastic: false, streams: [], gradientModes: ['exact', 'bpda'] as GradientMode[], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    return tf.clone(x);
  }
}

/** x + sigma * noise (forward stream) + a second, `reverse`-stream draw; clipped to [0,1]. */
class NoisyToy implements Defense {
  readonly id = 'toy-noise';
  readonly capabilities = {
    stochastic: true,
    streams: ['forward', 'reverse'] as NoiseStreamKind[],
    gradientModes: ['exact', 'bpda'] as GradientMode[],
    networkCalls: 2,
  };
  constructor(private readonly sigma: number) {}
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    return tf.tidy(() => {
      const shape = x.shape as number[];
      const a = noise.normal({ kind: 'forward' }, shape);
      const b = noise.normal({ kind: 'reverse', step: 1 }, shape);
      return tf.clipByValue(tf.add(x, tf.mul(this.sigma, tf.add(a, b))), 0, 1) as tf.Tensor4D;
    });
  }
}

/** Rounds pixels to {0, 1}: the gradient through it is zero (masked gradients). */
class RoundToy implements Defense {
  readonly id = 'toy-round';
  readonly capabilities = { stochastic: false, streams: [], gradientModes: ['exact'] as GradientMode[], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    return tf.round(x);
  }
}

/** A defense with no exact gradient (a quantiser that declares none): its targets offer only BPDA. */
class QuantizeToy implements Defense {
  readonly id = 'toy-quantize';
  readonly capabilities = { stochastic: false, streams: [], gradientModes: [] as GradientMode[], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => tf.div(tf.round(tf.mul(x, 8)), 8));
  }
}

/**
 * Gradient masking: the identity forward, a zero backward (tf.customGrad). Every gradient-based attack
 * sees an all-zero input gradient and cannot move.
 */
class ZeroGradToy implements Defense {
  readonly id = 'toy-zero-grad';
  readonly capabilities = { stochastic: false, streams: [], gradientModes: ['exact', 'bpda'] as GradientMode[], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
    }));
    return f(x) as tf.Tensor4D;
  }
}

/** The identity, with a `weights` option its schema declares a file (x-dbp-file); create() requires the file. */
class FileToy extends IdentityToy {
  override readonly id = 'toy-file';
}

export type Policy = NoisePolicy;

/** Sign-gradient PGD (l_inf) with EoT replicas in the batch dimension and a declared noise policy. */
export class ToyPgd implements Attack {
  readonly id: string;
  readonly threat;
  constructor(
    readonly options: { eps: number; steps: number; stepSize: number; eot: { samples: number }; policy: Policy; overshoot: number },
    id = 'toy-pgd',
  ) {
    this.id = id;
    this.threat = { norm: 'linf' as const, eps: options.eps };
  }
  protocol(): AttackProtocol {
    const o = this.options;
    return {
      policy: o.policy,
      eotSamples: o.eot.samples,
      steps: o.steps,
      restarts: 1,
      gradient: 'target',
      stepSize: o.stepSize,
      requires: { inputGradients: true },
    };
  }
  async perturb(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> {
    const K = this.options.eot.samples;
    const rows: NoiseRow[] = eotRows(ctx.sampleIndices, K);
    let adv = tf.clone(x);
    for (let s = 0; s < this.options.steps; s++) {
      const next = tf.tidy(() => {
        const idx = tf.tensor1d(
          rows.map((_, i) => Math.floor(i / K)),
          'int32',
        );
        const yk = tf.gather(y, idx);
        const g = tf.grad((a: tf.Tensor) => {
          const xr = tf.gather(a, idx) as tf.Tensor4D;
          return tf.losses.softmaxCrossEntropy(
            tf.oneHot(yk as tf.Tensor1D, CLASSES),
            target.logits(xr, rows),
            undefined,
            0,
            tf.Reduction.SUM,
          );
        })(adv);
        const stepped = tf.add(adv, tf.mul(this.options.stepSize, tf.sign(g)));
        const lo = tf.sub(x, this.options.eps * this.options.overshoot);
        const hi = tf.add(x, this.options.eps * this.options.overshoot);
        return tf.clipByValue(tf.minimum(tf.maximum(stepped, lo), hi), 0, 1) as tf.Tensor4D;
      });
      adv.dispose();
      adv = next;
    }
    return adv;
  }
}

const pgdSchema = (defaultPolicy: Policy, overshoot: number) => ({
  type: 'object',
  additionalProperties: false,
  properties: {
    eps: { type: 'number', default: 0.1 },
    steps: { type: 'integer', default: 3 },
    stepSize: { type: 'number', default: 0.05 },
    eot: { type: 'object', additionalProperties: false, default: {}, properties: { samples: { type: 'integer', minimum: 1, default: 1 } } },
    policy: { enum: [...NOISE_POLICIES], default: defaultPolicy },
    overshoot: { type: 'number', default: overshoot },
  },
});

/** A registry with the toy plugins. */
export function toyRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({
    name: 'toys',
    register(reg) {
      reg.add({
        kind: 'dataset',
        id: 'toy-data',
        description: 'seeded 4x4 images',
        schema: { type: 'object', additionalProperties: false, properties: { size: { type: 'integer', default: 12 } } },
        create: (o: { size: number }) => new ToyDataset(o.size),
      });
      reg.add({
        kind: 'defense',
        id: 'identity',
        description: 'identity',
        schema: { type: 'object', additionalProperties: false, properties: {} },
        create: () => new IdentityToy(),
      });
      reg.add({
        kind: 'defense',
        id: 'toy-noise',
        description: 'additive noise',
        schema: { type: 'object', additionalProperties: false, properties: { sigma: { type: 'number', default: 0.25 } } },
        create: (o: { sigma: number }) => new NoisyToy(o.sigma),
      });
      reg.add({
        kind: 'defense',
        id: 'toy-round',
        description: 'rounding',
        schema: { type: 'object', additionalProperties: false, properties: {} },
        create: () => new RoundToy(),
      });
      reg.add({
        kind: 'defense',
        id: 'toy-quantize',
        description: 'quantiser without an exact gradient',
        schema: { type: 'object', additionalProperties: false, properties: {} },
        create: () => new QuantizeToy(),
      });
      reg.add({
        kind: 'defense',
        id: 'toy-zero-grad',
        description: 'zero backward',
        schema: { type: 'object', additionalProperties: false, properties: {} },
        create: () => new ZeroGradToy(),
      });
      reg.add({
        kind: 'defense',
        id: 'toy-file',
        description: 'identity with a weights file',
        schema: {
          type: 'object',
          additionalProperties: false,
          required: ['weights'],
          properties: { weights: { type: 'string', [FILE_OPTION_KEYWORD]: true } },
        },
        create: (o: { weights: string }, ctx) => {
          if (!fs.existsSync(ctx.resolvePath(o.weights))) throw new Error(`toy-file: ${o.weights} not found`);
          return new FileToy();
        },
      });
      reg.add({
        kind: 'attack',
        id: 'toy-pgd',
        description: 'sign PGD',
        schema: pgdSchema('fresh', 1),
        create: (o) => new ToyPgd(o, 'toy-pgd'),
      });
      reg.add({
        kind: 'attack',
        id: 'toy-dw',
        description: 'sign PGD on keyed noise',
        schema: pgdSchema('both', 1),
        create: (o) => new ToyPgd(o, 'toy-dw'),
      });
      reg.add({
        kind: 'attack',
        id: 'toy-cheat',
        description: 'exceeds its budget',
        schema: pgdSchema('fresh', 3),
        create: (o) => new ToyPgd(o, 'toy-cheat'),
      });
    },
  });
  return r;
}

/**
 * The runner's real dependencies (subset selection and hash from @dbp-bench/datasets, the policy
 * attack target and R-draw evaluation from @dbp-bench/attacks) with the toy classifier as the
 * loaded weights; `loaded` counts classifier loads.
 */
export function toyDeps(): RunnerDeps & { loaded: number } {
  const deps = {
    ...defaultDeps(),
    loaded: 0,
    async loadClassifier() {
      deps.loaded++;
      return new ToyClassifier();
    },
  };
  return deps;
}

/** A run config for the toys. */
export function toyConfig(
  over: {
    defense?: string;
    defenseOptions?: object;
    attacks?: object[];
    n?: number;
    batchSize?: number;
    R?: number;
    name?: string;
    sanity?: boolean;
  } = {},
): object {
  return {
    name: over.name ?? 'toy-run',
    seed: 5,
    dataset: { id: 'toy-data', options: { size: 16 }, subset: { kind: 'first', n: over.n ?? 10 } },
    classifier: { weights: 'toy.safetensors' },
    defense: { id: over.defense ?? 'toy-noise', options: over.defenseOptions ?? {} },
    attacks: over.attacks ?? [
      { id: 'toy-pgd', name: 'pgd-eot', options: { eot: { samples: 2 } } },
      { id: 'toy-dw', name: 'dw-both', options: {} },
    ],
    evaluation: { purifications: over.R ?? 2, batchSize: over.batchSize ?? 3, sanityChecks: over.sanity ?? true },
    leaderboard: { model: 'Toy <defense>', family: 'dbp', reducedProtocol: true },
  };
}
