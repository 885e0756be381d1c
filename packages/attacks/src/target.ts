/**
 * Attack targets: classifier ∘ defense with a noise policy (ALGORITHMS.md §7).
 *
 * A policy names which noise streams of the defense are *keyed* (known to the attacker and replayed
 * by the final evaluation) and which are *fresh* (a new draw on every call):
 *
 * | policy  | keyed streams                       | setting                      |
 * |---------|-------------------------------------|------------------------------|
 * | `fresh` | none                                | white-box (EoT)              |
 * | `fwd`   | `forward`                           | DW_Fwd                       |
 * | `rev`   | `reverse`, `path`, `corrector`      | DW_Rev                       |
 * | `both`  | all                                 | DW_Both (the paper's DW-box) |
 *
 * Keyed draws depend on (seed, stream, step, sample index) only: every EoT replica and every
 * evaluation draw of a sample sees the same keyed tensors, while fresh streams differ per replica
 * (the EoT index is part of their key) and per call.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  FreshNoiseSource,
  IncompatiblePluginError,
  KeyedNoiseSource,
  NOISE_STREAM_KINDS,
  type AttackTarget,
  type Classifier,
  type Defense,
  type DefenseCapabilities,
  type GradientMode,
  type NoiseRow,
  type NoiseSource,
  type NoiseStream,
  type NoiseStreamKind,
} from '@dbp-bench/framework';

export type NoisePolicy = 'fresh' | 'fwd' | 'rev' | 'both';
export const NOISE_POLICIES: readonly NoisePolicy[] = ['fresh', 'fwd', 'rev', 'both'];

/** Keyed stream kinds of each policy (ALGORITHMS.md §7 table). */
export const KEYED_KINDS: Readonly<Record<NoisePolicy, readonly NoiseStreamKind[]>> = {
  fresh: [],
  fwd: ['forward'],
  rev: ['reverse', 'path', 'corrector'],
  both: [...NOISE_STREAM_KINDS],
};

/** Paper names of the settings, for logs and reports. */
export const POLICY_NAMES: Readonly<Record<NoisePolicy, string>> = {
  fresh: 'White-box',
  fwd: 'DW_Fwd',
  rev: 'DW_Rev',
  both: 'DW_Both',
};

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

export interface TargetOptions {
  /** Which streams are keyed (default `fresh`: none). */
  readonly policy?: NoisePolicy;
  /** Seed of the keyed streams (and of the fresh ones unless `freshSeed` is given). Default 0. */
  readonly seed?: number;
  /** Seed of the fresh streams; default `seed`. Fresh draws never coincide with keyed ones. */
  readonly freshSeed?: number;
  /** Gradient mode passed to `Defense.purify` (default `exact`). */
  readonly gradient?: GradientMode;
}

/**
 * The attack target of this package. One object should serve the attack and its final evaluation:
 * its keyed streams are fixed, and its fresh streams keep advancing, so evaluation draws never repeat
 * a draw the attack saw.
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
    this.gradient = options.gradient ?? 'exact';
    checkGradientMode(defense, this.gradient);
    this.keyedKinds = new Set(KEYED_KINDS[this.policy]);
    this.freshRoot = new FreshNoiseSource(this.freshSeed, []);
  }

  noise(rows: readonly NoiseRow[]): NoiseSource {
    return new PolicyNoiseSource(this.keyedKinds, this.seed, rows, this.freshRoot.withRows(rows));
  }

  /** One purification per row (noise of `rows`) and the classifier's logits. */
  logits(x: tf.Tensor4D, rows: readonly NoiseRow[], gradient: GradientMode = this.gradient): tf.Tensor2D {
    return tf.tidy(() => this.classifier.logits(this.defense.purify(x, this.noise(rows), { gradient })));
  }

  describe(): string {
    return `${POLICY_NAMES[this.policy]} (policy ${this.policy}, keyed seed ${this.seed}, fresh seed ${this.freshSeed}, gradient ${this.gradient})`;
  }
}

/** Throw IncompatiblePluginError when the defense does not support a gradient mode. */
export function checkGradientMode(defense: Defense, gradient: GradientMode): void {
  const modes = defense.capabilities.gradientModes;
  if (!modes.includes(gradient)) {
    throw new IncompatiblePluginError(
      `defense '${defense.id}' does not support gradient mode '${gradient}' (it supports: ${modes.join(', ') || 'none'})`,
    );
  }
}

/** classifier ∘ defense with a noise policy, a keyed seed and a gradient mode. */
export function createTarget(classifier: Classifier, defense: Defense, options: TargetOptions = {}): PolicyTarget {
  return new PolicyTarget(classifier, defense, options);
}

/** Logits of the target for `rows`, with an optional gradient-mode override (any AttackTarget). */
export function targetLogits(target: AttackTarget, x: tf.Tensor4D, rows: readonly NoiseRow[], gradient?: GradientMode): tf.Tensor2D {
  if (gradient === undefined || gradient === target.gradient) return target.logits(x, rows);
  checkGradientMode(target.defense, gradient);
  return tf.tidy(() => target.classifier.logits(target.defense.purify(x, target.noise(rows), { gradient })));
}

/** What a policy amounts to on a defense, given the streams it actually draws from. */
export interface PolicyEquivalence {
  readonly policy: NoisePolicy;
  /** Streams of the defense that are keyed / fresh under the policy. */
  readonly keyed: NoiseStreamKind[];
  readonly fresh: NoiseStreamKind[];
  /** The policy it is equivalent to on this defense (itself when nothing collapses). */
  readonly equivalentTo: NoisePolicy;
  /** A sentence for logs and reports, or undefined when the policy does not collapse. */
  readonly note?: string;
}

/**
 * Which of the defense's streams a policy keys. When all of them are keyed the setting is DW_Both
 * (e.g. DW_Fwd on DP_DDIM with eta = 0, whose only stream is `forward`: ALGORITHMS.md §13 item 9);
 * when none is keyed it is the white-box setting.
 */
export function policyEquivalence(policy: NoisePolicy, defense: { id: string; capabilities: DefenseCapabilities }): PolicyEquivalence {
  const streams = [...new Set(defense.capabilities.stochastic ? defense.capabilities.streams : [])];
  const keyedSet = new Set(KEYED_KINDS[policy]);
  const keyed = streams.filter((s) => keyedSet.has(s));
  const fresh = streams.filter((s) => !keyedSet.has(s));
  const name = POLICY_NAMES[policy];
  const list = (xs: readonly string[]): string => xs.map((s) => `'${s}'`).join(', ');
  if (streams.length === 0) {
    const note = policy === 'fresh' ? undefined : `defense '${defense.id}' is deterministic (no noise streams): ${name} equals the white-box setting and DW_Both`;
    return { policy, keyed, fresh, equivalentTo: policy === 'fresh' ? 'fresh' : 'both', note };
  }
  if (policy !== 'both' && fresh.length === 0) {
    return {
      policy, keyed, fresh, equivalentTo: 'both',
      note: `defense '${defense.id}' draws only from ${list(streams)}, all keyed by ${name}: ${name} equals DW_Both`,
    };
  }
  if (policy !== 'fresh' && keyed.length === 0) {
    return {
      policy, keyed, fresh, equivalentTo: 'fresh',
      note: `defense '${defense.id}' draws only from ${list(streams)}, none of them keyed by ${name}: ${name} equals the white-box setting`,
    };
  }
  return { policy, keyed, fresh, equivalentTo: policy };
}
