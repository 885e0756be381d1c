/**
 * Conformance suite for attacks, to be called from a mocha test file (it uses mocha's global
 * `describe`/`it` and node:assert; it is not imported by the package index):
 *
 * ```ts
 * import { describeAttackConformance } from '@dbp-bench/attacks/dist/src/testing';
 * describeAttackConformance('my-attack', () => new MyAttack({ eps: 0.1 }), async () => fixture);
 * ```
 *
 * Checks: diagnostics, when the attack reports them (AttackContext.reportDiagnostics), come once with one
 * entry per row; ||delta|| <= eps (+1e-6) and x + delta in [0, 1] after every step (through the attack's
 * `onStep` hook, which the attack must call) and for the result; same seed gives an identical
 * result; robust accuracy <= clean accuracy; no tensor growth across iterations and no leak; an
 * optional accuracy ceiling (an attack that matters on an undefended classifier); invalid options
 * rejected by the plugin schema.
 */
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  MemoryLogger,
  validateSchema,
  type Attack,
  type AttackDiagnostics,
  type Classifier,
  type Defense,
  type PluginDefinition,
  perSampleNorms,
} from '@dbp-bench/framework';
import { evaluateRandomized, summarizeEvaluation } from './evaluate';
import { targetForAttack } from './run';
import type { AttackRunContext, StepInfo } from './types';

export interface ConformanceFixture {
  readonly classifier: Classifier;
  readonly defense: Defense;
  /** Inputs NHWC in [0,1] and labels (owned by the fixture, not disposed by the suite). */
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
  readonly sampleIndices: readonly number[];
  /** Seed of the target and the attack (default 0). */
  readonly seed?: number;
  /** Purifications per example in the clean/robust evaluation (default 1). */
  readonly draws?: number;
  /** When set, the robust accuracy (mean over draws) must be at most this. */
  readonly maxRobustAccuracy?: number;
  /** When set, the clean accuracy (mean over draws) must be at least this (so a low robust accuracy means something). */
  readonly minCleanAccuracy?: number;
}

export interface ConformanceOptions {
  /** Plugin whose schema must reject every entry of `invalidOptions`. */
  readonly plugin?: PluginDefinition;
  readonly invalidOptions?: readonly unknown[];
  /** Tolerance on the norm bound (default 1e-6). */
  readonly tolerance?: number;
}

interface Observed {
  steps: number;
  maxNorm: number;
  minValue: number;
  maxValue: number;
  counts: Map<number, number[]>;
}

async function runObserved(
  attack: Attack,
  fx: ConformanceFixture,
): Promise<{ xAdv: tf.Tensor4D; obs: Observed; diagnostics: AttackDiagnostics[] }> {
  const seed = fx.seed ?? 0;
  const target = targetForAttack(attack, fx.classifier, fx.defense, { seed });
  const obs: Observed = { steps: 0, maxNorm: 0, minValue: Infinity, maxValue: -Infinity, counts: new Map() };
  const onStep = (info: StepInfo): void => {
    const n = tf.memory().numTensors;
    const list = obs.counts.get(info.restart) ?? [];
    list.push(n);
    obs.counts.set(info.restart, list);
    obs.steps++;
    const d = tf.sub(info.xAdv, info.x) as tf.Tensor4D;
    const norms = perSampleNorms(d, attack.threat.norm);
    d.dispose();
    obs.maxNorm = Math.max(obs.maxNorm, ...norms);
    const lo = tf.min(info.xAdv);
    const hi = tf.max(info.xAdv);
    obs.minValue = Math.min(obs.minValue, lo.dataSync()[0]);
    obs.maxValue = Math.max(obs.maxValue, hi.dataSync()[0]);
    lo.dispose();
    hi.dispose();
  };
  const diagnostics: AttackDiagnostics[] = [];
  const ctx: AttackRunContext = {
    logger: new MemoryLogger(),
    sampleIndices: fx.sampleIndices,
    seed,
    onStep,
    reportDiagnostics: (d) => diagnostics.push(d),
  };
  const xAdv = await attack.perturb(target, fx.x, fx.y, ctx);
  return { xAdv, obs, diagnostics };
}

/** Register the conformance tests of one attack (call at the top level of a mocha test file). */
export function describeAttackConformance(
  name: string,
  factory: () => Attack,
  fixtures: () => ConformanceFixture | Promise<ConformanceFixture>,
  options: ConformanceOptions = {},
): void {
  const tol = options.tolerance ?? 1e-6;
  describe(`attack conformance: ${name}`, function () {
    let fx: ConformanceFixture;
    before(async function () {
      fx = await fixtures();
    });

    it('keeps ||delta|| <= eps and x + delta in [0,1] after every step and in the result', async function () {
      const attack = factory();
      const { xAdv, obs, diagnostics } = await runObserved(attack, fx);
      try {
        // Diagnostics are optional; when reported, once, with one entry per row.
        assert.ok(diagnostics.length <= 1, `${name}: reportDiagnostics called ${diagnostics.length} times in one perturb()`);
        for (const d of diagnostics) {
          const rows = fx.x.shape[0];
          assert.equal(
            d.gradientVanished.length,
            rows,
            `${name}: gradientVanished has ${d.gradientVanished.length} entries for ${rows} rows`,
          );
          assert.ok(
            d.gradientVanished.every((v) => v === null || typeof v === 'boolean'),
            `${name}: gradientVanished entries must be booleans or null`,
          );
          if (d.keptClean) assert.equal(d.keptClean.length, rows, `${name}: keptClean has ${d.keptClean.length} entries for ${rows} rows`);
          if (d.stepSize !== undefined) assert.ok(d.stepSize > 0, `${name}: stepSize ${d.stepSize} must be positive`);
        }
        assert.ok(obs.steps > 0, `${name}: the attack never called onStep (it must report every iterate)`);
        assert.ok(
          obs.maxNorm <= attack.threat.eps + tol,
          `${name}: ||delta||_${attack.threat.norm} reached ${obs.maxNorm} > eps ${attack.threat.eps}`,
        );
        assert.ok(obs.minValue >= 0 && obs.maxValue <= 1, `${name}: x + delta left [0,1]: [${obs.minValue}, ${obs.maxValue}]`);
        const d = tf.sub(xAdv, fx.x) as tf.Tensor4D;
        const final = Math.max(...perSampleNorms(d, attack.threat.norm));
        d.dispose();
        assert.ok(final <= attack.threat.eps + tol, `${name}: result ||delta|| = ${final} > eps ${attack.threat.eps}`);
        const [lo, hi] = [tf.min(xAdv), tf.max(xAdv)];
        assert.ok(lo.dataSync()[0] >= 0 && hi.dataSync()[0] <= 1, `${name}: result outside [0,1]`);
        lo.dispose();
        hi.dispose();
        assert.deepEqual(xAdv.shape, fx.x.shape);
      } finally {
        xAdv.dispose();
      }
    });

    it('gives an identical result for the same seed', async function () {
      const a = await runObserved(factory(), fx);
      const b = await runObserved(factory(), fx);
      try {
        const da = a.xAdv.dataSync();
        const db = b.xAdv.dataSync();
        let diff = 0;
        for (let i = 0; i < da.length; i++) diff = Math.max(diff, Math.abs(da[i] - db[i]));
        assert.equal(diff, 0, `${name}: two runs with the same seed differ by up to ${diff}`);
      } finally {
        a.xAdv.dispose();
        b.xAdv.dispose();
      }
    });

    it('does not grow the number of live tensors across iterations, and leaks none', async function () {
      const before = tf.memory().numTensors;
      const { xAdv, obs } = await runObserved(factory(), fx);
      xAdv.dispose();
      for (const [restart, counts] of obs.counts) {
        assert.ok(
          Math.max(...counts) === Math.min(...counts),
          `${name}: live tensors changed across iterations of run ${restart}: ${counts.join(', ')}`,
        );
      }
      assert.equal(tf.memory().numTensors, before, `${name}: ${tf.memory().numTensors - before} tensors leaked by perturb()`);
    });

    it('gives robust accuracy <= clean accuracy under the evaluation protocol', async function () {
      const attack = factory();
      const seed = fx.seed ?? 0;
      const draws = fx.draws ?? 1;
      const target = targetForAttack(attack, fx.classifier, fx.defense, { seed });
      const clean = summarizeEvaluation(evaluateRandomized(target, fx.x, fx.y, fx.sampleIndices, draws));
      const xAdv = await attack.perturb(target, fx.x, fx.y, { logger: new MemoryLogger(), sampleIndices: fx.sampleIndices, seed });
      try {
        const robust = summarizeEvaluation(evaluateRandomized(target, xAdv, fx.y, fx.sampleIndices, draws));
        assert.ok(robust.mean <= clean.mean, `${name}: robust accuracy ${robust.mean} > clean accuracy ${clean.mean}`);
        if (fx.minCleanAccuracy !== undefined) {
          assert.ok(
            clean.mean >= fx.minCleanAccuracy,
            `${name}: clean accuracy ${clean.mean} is below the fixture's floor ${fx.minCleanAccuracy}`,
          );
        }
        if (fx.maxRobustAccuracy !== undefined) {
          assert.ok(
            robust.mean <= fx.maxRobustAccuracy,
            `${name}: robust accuracy ${robust.mean} (clean ${clean.mean}) is above the expected ceiling ${fx.maxRobustAccuracy}`,
          );
        }
      } finally {
        xAdv.dispose();
      }
    });

    if (options.plugin && options.invalidOptions?.length) {
      const plugin = options.plugin;
      it('rejects invalid options with ConfigValidationError', function () {
        for (const bad of options.invalidOptions ?? []) {
          assert.throws(
            () => validateSchema(plugin.schema, bad, `options of attack '${plugin.id}'`),
            (e: unknown) => e instanceof ConfigValidationError,
            `${name}: options ${JSON.stringify(bad)} were accepted`,
          );
        }
      });
    }
  });
}
