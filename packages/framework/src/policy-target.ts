/**
 * The attack target: classifier ∘ defense with a noise policy (noise-policy.ts, ALGORITHMS.md §7) and
 * a gradient mode, and the BPDA estimator every target applies.
 *
 * Keyed draws depend on (seed, stream, step, sample index) only: every EoT replica and every
 * evaluation draw of a sample sees the same keyed tensors, while fresh streams differ per replica
 * (the EoT index is part of their key) and per call.
 *
 * Gradient modes: `exact` differentiates through `Defense.purify`; `bpda` (Athalye et al. 2018, with
 * g(x) = x) runs purify forward and passes the classifier's gradient at the purified point back as
 * the input gradient. BPDA lives here only: defenses implement purify and, when they can, an exact
 * gradient; `bpda` is available on every defense. `surrogate` differentiates through the defense's
 * shorter-step twin (ALGORITHMS.md §14.3).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AttackTarget, Classifier, Defense, GradientMode, NoiseRow, NoiseSource, NoiseStream, NoiseStreamKind } from '@dbp-bench/core';
import { IncompatiblePluginError } from '@dbp-bench/core';
import { KEYED_KINDS, NOISE_POLICIES, POLICY_NAMES, targetGradientModes, type NoisePolicy } from '@dbp-bench/core';
import { FreshNoiseSource, KeyedNoiseSource } from './noise-sources';
import { isRecordingGradient } from './checkpoint';

/**
 * A NoiseSource that is keyed for some stream kinds and fresh for the others. Keyed draws ignore the
 * EoT index of the rows (the attacker's known noise is one tensor per sample); fresh draws use it.
 */
export class PolicyNoiseSource implements NoiseSource {
  constructor(
    readonly keyedKinds: ReadonlySet<NoiseStreamKind>,
    readonly seed: number,
    readonly rows: readonly NoiseRow[],
    private readonly fresh: NoiseSource,
  ) {}
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    if (this.keyedKinds.has(stream.kind)) {
      const keyedRows = this.rows.map((r) => ({ sample: r.sample, eot: 0 }));
      return new KeyedNoiseSource(this.seed, keyedRows).normal(stream, shape);
    }
    return this.fresh.normal(stream, shape);
  }
  withRows(rows: readonly NoiseRow[]): PolicyNoiseSource {
    return new PolicyNoiseSource(this.keyedKinds, this.seed, rows, this.fresh.withRows(rows));
  }
  describe(): string {
    return `policy(keyed=[${[...this.keyedKinds].join(',')}] keyed(seed=${this.seed}), ${this.fresh.describe()})`;
  }
}

/**
 * `f(x)` forward, identity backward: dL/dx = dL/df(x). `f` runs inside the custom-gradient node, so
 * no gradient tape records it (a purification chain then runs as a plain forward loop).
 */
export function identityBackward(f: (x: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: f(args[0] as tf.Tensor4D),
    gradFunc: (dy: tf.Tensor) => dy.clone(),
  }));
  return g(x) as tf.Tensor4D;
}

/**
 * `defense.purify(x, noise)` differentiable with gradient mode `gradient`: `exact` is purify itself;
 * `bpda` is purify forward with the identity backward (the BPDA estimator); `surrogate` (Lee & Kim,
 * ALGORITHMS.md §14.3) is the defense's shorter-step twin (`defense.surrogate()`, forward and backward)
 * under a gradient tape, and the defense itself outside one, so evaluations (predictions, the final
 * evaluation) always see the defended process. Checks the mode first.
 */
export function purifyWithGradient(defense: Defense, x: tf.Tensor4D, noise: NoiseSource, gradient: GradientMode): tf.Tensor4D {
  checkGradientMode(defense, gradient);
  if (gradient === 'bpda') return identityBackward((xx) => defense.purify(xx, noise), x);
  if (gradient === 'surrogate' && isRecordingGradient()) return surrogateOf(defense).purify(x, noise);
  return defense.purify(x, noise);
}

/** The defense's surrogate twin (gradient mode `surrogate`); IncompatiblePluginError when it has none. */
export function surrogateOf(defense: Defense): Defense {
  if (typeof defense.surrogate !== 'function') {
    throw new IncompatiblePluginError(
      `defense '${defense.id}' lists gradient mode 'surrogate' but has no surrogate(): a defense offering it must build its shorter-step twin`,
    );
  }
  return defense.surrogate();
}

/** classifier(purify(x)) with gradient mode `gradient` through the defense. */
export function purifiedLogits(
  classifier: Classifier,
  defense: Defense,
  x: tf.Tensor4D,
  noise: NoiseSource,
  gradient: GradientMode,
): tf.Tensor2D {
  return tf.tidy(() => classifier.logits(purifyWithGradient(defense, x, noise, gradient)));
}

/** Throw IncompatiblePluginError when a target cannot offer a gradient mode on the defense. */
export function checkGradientMode(defense: Pick<Defense, 'id' | 'capabilities'>, gradient: GradientMode): void {
  const modes = targetGradientModes(defense.capabilities);
  if (!modes.includes(gradient)) {
    throw new IncompatiblePluginError(
      `defense '${defense.id}' does not support gradient mode '${String(gradient)}' (available: ${modes.join(', ')}; ` +
        `'exact' needs a defense whose capabilities list it)`,
    );
  }
}

export interface TargetOptions {
  /** Which streams are keyed (default `fresh`: none). */
  readonly policy?: NoisePolicy;
  /** Seed of the keyed streams (and of the fresh ones unless `freshSeed` is given). Default 0. */
  readonly seed?: number;
  /** Seed of the fresh streams; default `seed`. Fresh draws never coincide with keyed ones. */
  readonly freshSeed?: number;
  /** Gradient mode through the defense (default: the defense's `defaultGradient`, else `exact`). */
  readonly gradient?: GradientMode;
}

/**
 * The attack target. One object should serve the attack and its final evaluation: its keyed streams
 * are fixed, and its fresh streams keep advancing, so evaluation draws never repeat a draw the attack
 * saw.
 */
export class PolicyTarget implements AttackTarget {
  readonly policy: NoisePolicy;
  readonly seed: number;
  readonly freshSeed: number;
  readonly gradient: GradientMode;
  readonly keyedKinds: ReadonlySet<NoiseStreamKind>;
  private readonly freshRoot: FreshNoiseSource;

  constructor(
    readonly classifier: Classifier,
    readonly defense: Defense,
    options: TargetOptions = {},
  ) {
    this.policy = options.policy ?? 'fresh';
    if (!NOISE_POLICIES.includes(this.policy)) {
      throw new IncompatiblePluginError(`unknown noise policy '${String(this.policy)}'; expected one of ${NOISE_POLICIES.join(', ')}`);
    }
    this.seed = options.seed ?? 0;
    this.freshSeed = options.freshSeed ?? this.seed;
    this.gradient = options.gradient ?? defense.defaultGradient ?? 'exact';
    checkGradientMode(defense, this.gradient);
    this.keyedKinds = new Set(KEYED_KINDS[this.policy]);
    this.freshRoot = new FreshNoiseSource(this.freshSeed, []);
  }

  noise(rows: readonly NoiseRow[]): NoiseSource {
    return new PolicyNoiseSource(this.keyedKinds, this.seed, rows, this.freshRoot.withRows(rows));
  }

  /** One purification per row (noise of `rows`) and the classifier's logits. */
  logits(x: tf.Tensor4D, rows: readonly NoiseRow[], gradient: GradientMode = this.gradient): tf.Tensor2D {
    return purifiedLogits(this.classifier, this.defense, x, this.noise(rows), gradient);
  }

  describe(): string {
    return `${POLICY_NAMES[this.policy]} (policy ${this.policy}, keyed seed ${this.seed}, fresh seed ${this.freshSeed}, gradient ${this.gradient})`;
  }
}

/** classifier ∘ defense with a noise policy, a keyed seed and a gradient mode. */
export function createTarget(classifier: Classifier, defense: Defense, options: TargetOptions = {}): PolicyTarget {
  return new PolicyTarget(classifier, defense, options);
}

/** Logits of any AttackTarget for `rows`, with an optional gradient-mode override. */
export function targetLogits(target: AttackTarget, x: tf.Tensor4D, rows: readonly NoiseRow[], gradient?: GradientMode): tf.Tensor2D {
  if (gradient === undefined || gradient === target.gradient) return target.logits(x, rows);
  return purifiedLogits(target.classifier, target.defense, x, target.noise(rows), gradient);
}
