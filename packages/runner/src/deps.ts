/**
 * What the runner takes from the plugin packages, as one injectable object: the classifier loader
 * (@dbp-bench/models), subset selection and its hash (@dbp-bench/datasets), the attack target
 * (@dbp-bench/framework) and randomized evaluation (@dbp-bench/attacks). Tests pass their own implementations.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DbpError,
  createTarget,
  type AttackTarget,
  type Classifier,
  type Dataset,
  type Defense,
  type GradientMode,
  type NoisePolicy,
  type SubsetSpec,
} from '@dbp-bench/framework';
import * as models from '@dbp-bench/models';
import * as datasets from '@dbp-bench/datasets';
import * as attacks from '@dbp-bench/attacks';
import type { ServingModule } from './identity';

/** A classifier as loaded from a weights file. */
export type LoadedClassifier = Classifier & { readonly arch?: string; dispose?(): void };

/** Per-sample outcome of R purifications (the fields the runner reads). */
export interface RandomizedSample {
  readonly predictions: readonly number[];
}

export interface RunnerDeps {
  /** The modules these implementations come from (hashed into the run identity; see identity.ts). */
  readonly modules?: readonly ServingModule[];
  loadClassifier(file: string): Promise<LoadedClassifier>;
  selectSubset(dataset: Dataset, spec: SubsetSpec): number[];
  subsetHash(indices: readonly number[]): string;
  createTarget(
    classifier: Classifier,
    defense: Defense,
    /** freshSeed: the seed of the fresh streams (default `seed`). */
    options: { policy: NoisePolicy; seed: number; freshSeed?: number; gradient: GradientMode },
  ): AttackTarget;
  evaluateRandomized(
    target: AttackTarget,
    x: tf.Tensor4D,
    y: Int32Array,
    sampleIndices: readonly number[],
    R: number,
  ): RandomizedSample[] | Promise<RandomizedSample[]>;
}

function api<F>(mod: unknown, pkg: string, name: string): F {
  const f = (mod as Record<string, unknown>)[name];
  if (typeof f !== 'function')
    throw new DbpError(
      'E_MISSING_API',
      `${pkg} does not export ${name}(), which the benchmark runner needs (rebuild the workspace: npm run build)`,
    );
  return f as F;
}

/** The real implementations from the plugin packages (resolved when first called). */
export function defaultDeps(): RunnerDeps {
  return {
    modules: (['@dbp-bench/models', '@dbp-bench/datasets', '@dbp-bench/attacks'] as const).map((name) => ({
      name,
      file: require.resolve(name),
      serves: 'runner',
    })),
    loadClassifier: (file) => api<RunnerDeps['loadClassifier']>(models, '@dbp-bench/models', 'loadClassifier')(file),
    selectSubset: (dataset, spec) => api<RunnerDeps['selectSubset']>(datasets, '@dbp-bench/datasets', 'selectSubset')(dataset, spec),
    subsetHash: (indices) => api<RunnerDeps['subsetHash']>(datasets, '@dbp-bench/datasets', 'subsetHash')(indices),
    createTarget: (c, d, o) => createTarget(c, d, o),
    evaluateRandomized: (t, x, y, idx, R) =>
      api<RunnerDeps['evaluateRandomized']>(attacks, '@dbp-bench/attacks', 'evaluateRandomized')(t, x, y, idx, R),
  };
}
