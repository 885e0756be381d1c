/** Shared types of the attacks: the per-step hook and the extended attack context. */
import type * as tf from '@tensorflow/tfjs-core';
import type { AttackContext } from '@dbp-bench/framework';

/**
 * What an attack reports after every iterate update. The tensors are valid only during the call
 * (the attack disposes them afterwards): clone or read them, do not keep them.
 */
export interface StepInfo {
  readonly attack: string;
  /** 0-based restart (PGD) or loss run (APGD: 0 = first loss, 1 = second, ...). */
  readonly restart: number;
  /** 1-based iteration within the restart. */
  readonly step: number;
  readonly totalSteps: number;
  /** Dataset indices of the rows being attacked (a subset of the batch on later restarts). */
  readonly sampleIndices: readonly number[];
  /** Clean inputs of these rows. */
  readonly x: tf.Tensor4D;
  /** The new iterate x + delta (after projection and box clipping). */
  readonly xAdv: tf.Tensor4D;
  /** The gradient estimate the update used (sum over EoT replicas), at the previous iterate. */
  readonly grad: tf.Tensor4D;
  /** Mean loss over EoT replicas at the previous iterate, per row. */
  readonly loss: Float32Array;
  /** Fraction of EoT replicas classified correctly at the previous iterate, per row. */
  readonly correctFraction: Float32Array;
  /** K: the EoT replicas (purifications) judged per row at the previous iterate. */
  readonly draws?: number;
  /**
   * Predicted class of each of the K replicas at the previous iterate, sample-major (rows·K), the draws
   * behind `correctFraction` (the any-iteration counts and the majority vote use them).
   */
  readonly predictions?: Int32Array;
  /** Step size of each row used for this update (APGD adapts it per sample). */
  readonly stepSize: ArrayLike<number>;
  /** Per-replica gradients [rows·K, ...] when the context asked for them. */
  readonly replicaGrads?: tf.Tensor4D;
}

export type StepHook = (info: StepInfo) => void;

/** The framework AttackContext plus optional instrumentation. */
export interface AttackRunContext extends AttackContext {
  /** Called after every iterate update (for conformance checks and the trajectory analysis). */
  readonly onStep?: StepHook;
  /** Pass per-replica EoT gradients to onStep. */
  readonly recordReplicaGradients?: boolean;
}
