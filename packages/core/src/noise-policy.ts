/**
 * Noise policies and gradient modes of an attack target (ALGORITHMS.md §7), as pure data: the names,
 * which noise stream kinds each policy keys, and what a policy amounts to on a defense. This module
 * loads no tensor library at run time; the tensor side (the policy noise source, the target and the
 * BPDA estimator) is in policy-target.ts.
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
 */
import { GRADIENT_MODES, NOISE_STREAM_KINDS, type DefenseCapabilities, type GradientMode, type NoiseStreamKind } from './contracts';

export type NoisePolicy = 'fresh' | 'fwd' | 'rev' | 'both';
/** Every noise policy, in the order of the table above (schema enums derive from it). */
export const NOISE_POLICIES: readonly NoisePolicy[] = Object.freeze(['fresh', 'fwd', 'rev', 'both'] as const);

/** The DW-box policies: every policy that keys something. */
export type DwPolicy = Exclude<NoisePolicy, 'fresh'>;
export const DW_POLICIES: readonly DwPolicy[] = Object.freeze(NOISE_POLICIES.filter((p): p is DwPolicy => p !== 'fresh'));

/** Keyed stream kinds of each policy (ALGORITHMS.md §7 table). */
export const KEYED_KINDS: Readonly<Record<NoisePolicy, readonly NoiseStreamKind[]>> = Object.freeze({
  fresh: Object.freeze([]),
  fwd: Object.freeze(['forward'] as const),
  rev: Object.freeze(['reverse', 'path', 'corrector'] as const),
  both: Object.freeze([...NOISE_STREAM_KINDS]),
});

/** Paper names of the settings, for logs and reports. */
export const POLICY_NAMES: Readonly<Record<NoisePolicy, string>> = Object.freeze({
  fresh: 'White-box',
  fwd: 'DW_Fwd',
  rev: 'DW_Rev',
  both: 'DW_Both',
});

export function isNoisePolicy(value: unknown): value is NoisePolicy {
  return typeof value === 'string' && (NOISE_POLICIES as readonly string[]).includes(value);
}

// ------------------------------------------------------------------------------------------------
// Gradient modes

/**
 * The gradient modes an attack target offers on a defense, in GRADIENT_MODES order: `exact` and
 * `surrogate` when the defense declares them (purify is differentiable; it has a shorter-step twin), and `bpda` always (the target's BPDA estimator:
 * identity backward through purify; the defense needs nothing for it).
 */
export function targetGradientModes(capabilities: Pick<DefenseCapabilities, 'gradientModes'>): GradientMode[] {
  return GRADIENT_MODES.filter((m) => m === 'bpda' || capabilities.gradientModes.includes(m));
}

// ------------------------------------------------------------------------------------------------
// What a policy amounts to on a defense

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
    const note =
      policy === 'fresh'
        ? undefined
        : `defense '${defense.id}' is deterministic (no noise streams): ${name} equals the white-box setting and DW_Both`;
    return { policy, keyed, fresh, equivalentTo: policy === 'fresh' ? 'fresh' : 'both', note };
  }
  if (policy !== 'both' && fresh.length === 0) {
    return {
      policy,
      keyed,
      fresh,
      equivalentTo: 'both',
      note: `defense '${defense.id}' draws only from ${list(streams)}, all keyed by ${name}: ${name} equals DW_Both`,
    };
  }
  if (policy !== 'fresh' && keyed.length === 0) {
    return {
      policy,
      keyed,
      fresh,
      equivalentTo: 'fresh',
      note: `defense '${defense.id}' draws only from ${list(streams)}, none of them keyed by ${name}: ${name} equals the white-box setting`,
    };
  }
  return { policy, keyed, fresh, equivalentTo: policy };
}
