/**
 * Shard execution: the batches of a shard in order, each evaluated clean (R purifications per sample)
 * and then attacked, attack by attack, on its survivors; every sample record is appended to the
 * journal (fsynced) before the next batch, so a kill loses at most the batch in progress.
 *
 * Determinism: a batch is always the same samples (batches are cut from the subset in order, and a
 * shard is a contiguous range of whole batches); every batch gets new attack targets, so the fresh
 * noise counters start from zero per batch; keyed noise depends on (seed, sample) only. Hence a
 * sharded, resumed or uninterrupted run writes identical per-sample records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeSafetensors } from '@dbp-bench/models';
import {
  SanityCheckError,
  type AttackDiagnostics,
  type AttackTarget,
  type Dataset,
  type Defense,
  type GradientMode,
  type Journal,
  type Logger,
} from '@dbp-bench/framework';
import type { LoadedClassifier, RunnerDeps } from './deps';
import { batchPositions, type RunAttack, type SubsetPlan } from './plan';
import {
  drawRecord,
  nextAnyState,
  pluralityCorrect,
  sampleChecks,
  type AnyState,
  type AttackRecord,
  type IterateRecord,
  type JournalLine,
  type SampleRecord,
} from './records';
import type { AttackRunContext, StepInfo } from '@dbp-bench/attacks';
import { checkBudget } from './sanity';

/** What evaluating a batch needs. */
export interface BatchContext {
  dataset: Dataset;
  classifier: LoadedClassifier;
  defense: Defense;
  attacks: readonly RunAttack[];
  deps: RunnerDeps;
  R: number;
  indices: readonly number[];
  cleanSeed: number;
  attackSeed(k: number): number;
  /** Seed of the fresh streams of attack k's final evaluation (its keyed streams stay the attack's). */
  finalSeed(k: number): number;
  /**
   * Independent in-loop draws (`evaluation.inLoopDraws`, ALGORITHMS.md §14.4): N fresh purifications of
   * every iterate, with fresh streams of `seed(k)`; absent: the attack's EoT copies are the in-loop draws.
   */
  inLoop?: { draws: number; seed(k: number): number };
  cleanGradient: GradientMode;
  logger: Logger;
  /**
   * Where the returned adversarial examples are kept (one safetensors file per batch and attack,
   * written before the batch's records are journaled; `dbp-bench export` collects them); none if absent.
   */
  adversarialDir?: string;
}

/** `<run dir>/adversarial`, created: the returned adversarial examples of every batch and attack. */
export function adversarialDir(runDir: string): string {
  const dir = path.join(runDir, 'adversarial');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** The file of the adversarial examples of attack `k` on the batch starting at subset position `first`. */
export function adversarialFile(dir: string, first: number, k: number): string {
  return path.join(dir, `p${first}-a${k}.safetensors`);
}

/**
 * Compute the shard's batches (`plan.range`) whose samples are not all in `done`, appending each new
 * record to `journal` and adding its position to `done`. Stops (resumably) after `stopAfterBatches`
 * computed batches. Returns the number of batches computed.
 */
export async function executeBatches(
  c: BatchContext,
  plan: SubsetPlan,
  journal: Journal<JournalLine>,
  done: Set<number>,
  o: { stopAfterBatches?: number; progressLabel: string; onBatch?: () => void; shouldStop?: () => boolean },
): Promise<number> {
  let computed = 0;
  const bar = c.logger.progress(o.progressLabel, plan.shardPositions, done.size);
  for (let b = plan.range.start; b < plan.range.end; b++) {
    const positions = batchPositions(plan, b);
    const missing = positions.filter((p) => !done.has(p));
    if (!missing.length) continue;
    if (o.stopAfterBatches !== undefined && computed >= o.stopAfterBatches) break;
    const records = await evaluateBatch(c, positions);
    for (const r of records) {
      if (done.has(r.position)) continue;
      journal.append(r);
      done.add(r.position);
    }
    computed++;
    bar.tick(missing.length, `batch ${b + 1}/${plan.batches}`);
    o.onBatch?.();
    // let signal handlers run between batches; a stop request ends the shard here, resumably
    await new Promise((resolve) => setImmediate(resolve));
    if (o.shouldStop?.()) break;
  }
  bar.done();
  return computed;
}

/** Clean evaluation and the attacks (on survivors) of one batch; returns one record per position. */
export async function evaluateBatch(c: BatchContext, positions: readonly number[]): Promise<SampleRecord[]> {
  const idx = positions.map((p) => c.indices[p]);
  const batch = await c.dataset.get(idx);
  try {
    const labels = Int32Array.from(batch.labels);
    const cleanTarget = c.deps.createTarget(c.classifier, c.defense, { policy: 'fresh', seed: c.cleanSeed, gradient: c.cleanGradient });
    const cleanEval = await c.deps.evaluateRandomized(cleanTarget, batch.images, labels, idx, c.R);
    const records: SampleRecord[] = positions.map((position, i) => {
      const clean = drawRecord(labels[i], cleanEval[i].predictions);
      return { type: 'sample', position, index: idx[i], label: labels[i], clean, attacks: [], robust: clean.mean };
    });
    const worst = records.map((r) => r.clean.worst);
    const majority = records.map((r) => r.clean.majority);
    const any: AnyState[] = records.map((r) => ({ robust: r.clean.mean, worst: r.clean.worst, majority: r.clean.majority }));
    for (const [k, a] of c.attacks.entries()) {
      const surv = records.map((r, i) => (r.robust > 0 ? i : -1)).filter((i) => i >= 0);
      const results = new Map<number, AttackRecord>();
      if (surv.length) {
        const sIdx = surv.map((i) => idx[i]);
        const sLabels = Int32Array.from(surv.map((i) => labels[i]));
        const xs = tf.tidy(() => tf.gather(batch.images, tf.tensor1d(surv, 'int32')) as tf.Tensor4D);
        const ys = tf.tensor1d(sLabels, 'int32');
        let xAdv: tf.Tensor4D | undefined;
        const got: { diagnostics?: AttackDiagnostics } = {};
        const iterates = new IterateCollector(sIdx, sLabels, c.inLoop ? 'independent' : 'eot');
        const pending: Promise<JudgedIterate>[] = [];
        try {
          const target = c.deps.createTarget(c.classifier, c.defense, { policy: a.policy, seed: c.attackSeed(k), gradient: a.gradient });
          const inLoopTarget = c.inLoop
            ? c.deps.createTarget(c.classifier, c.defense, {
                policy: a.policy,
                seed: c.attackSeed(k),
                freshSeed: c.inLoop.seed(k),
                gradient: a.gradient,
              })
            : undefined;
          const ctx: AttackRunContext = {
            logger: c.logger,
            sampleIndices: sIdx,
            seed: c.attackSeed(k),
            label: a.name,
            reportDiagnostics: (d) => (got.diagnostics = d),
            onStep: (info) => {
              if (inLoopTarget) pending.push(judgeIterate(c.deps, inLoopTarget, c.inLoop!.draws, info, (s) => iterates.labelOf(s)));
              else iterates.add(info);
            },
          };
          xAdv = await a.attack.perturb(target, xs, ys, ctx);
          for (const j of (await Promise.all(pending)).sort((p, q) => p.g - q.g))
            iterates.addDraws(j.g, j.rows, j.predictions, c.inLoop!.draws);
          const dist = checkBudget(a, xs, xAdv, sIdx);
          const diag = got.diagnostics;
          if (diag) checkDiagnostics(a, diag, surv.length);
          const step = diag?.stepSize ?? a.stepSize;
          // The final evaluation: a target with the attack's keyed streams and fresh streams of its own
          // seed, started afresh, so draw r of a sample is keyed by (final seed, sample, r) alone and can
          // be recomputed from the returned example (`dbp-bench recheck`).
          const finalTarget = c.deps.createTarget(c.classifier, c.defense, {
            policy: a.policy,
            seed: c.attackSeed(k),
            freshSeed: c.finalSeed(k),
            gradient: a.gradient,
          });
          const ev = await c.deps.evaluateRandomized(finalTarget, xAdv, sLabels, sIdx, c.R);
          if (c.adversarialDir) {
            const [m, h, w, ch] = xAdv.shape;
            writeSafetensors(
              adversarialFile(c.adversarialDir, positions[0], k),
              {
                x_adv: { dtype: 'F32', shape: [m, h, w, ch], data: xAdv.dataSync() as Float32Array },
                index: { dtype: 'I32', shape: [m], data: Int32Array.from(sIdx) },
                position: { dtype: 'I32', shape: [m], data: Int32Array.from(surv.map((i) => positions[i])) },
                label: { dtype: 'I32', shape: [m], data: sLabels },
              },
              { format: 'dbp-bench-adversarial', attack: a.name, k: String(k) },
            );
          }
          surv.forEach((i, j) => {
            const e = drawRecord(labels[i], ev[j].predictions);
            const it = iterates.record(j);
            any[i] = nextAnyState(any[i], it, e);
            const robust = Math.min(records[i].robust, e.mean);
            worst[i] = worst[i] && e.worst;
            majority[i] = majority[i] && e.majority;
            const checks = sampleChecks({ norm: a.norm, eps: a.eps, step }, a.norm === 'linf' ? dist[j].linf : dist[j].l2, robust, {
              gradientVanished: diag ? diag.gradientVanished[j] : null,
              keptClean: diag?.keptClean?.[j] ?? false,
            });
            results.set(i, {
              name: a.name,
              ran: true,
              eval: e,
              distance: dist[j],
              checks,
              robust,
              robustWorst: worst[i],
              robustMajority: majority[i],
              ...(it ? { iterates: it } : {}),
              anyRobust: any[i].robust,
              anyWorst: any[i].worst,
              anyMajority: any[i].majority,
            });
          });
        } finally {
          xs.dispose();
          ys.dispose();
          xAdv?.dispose();
        }
      }
      records.forEach((r, i) => {
        const res = results.get(i) ?? {
          name: a.name,
          ran: false,
          robust: r.robust,
          robustWorst: worst[i],
          robustMajority: majority[i],
          anyRobust: any[i].robust,
          anyWorst: any[i].worst,
          anyMajority: any[i].majority,
        };
        r.attacks.push(res);
        r.robust = res.robust;
      });
    }
    return records;
  } finally {
    batch.images.dispose();
  }
}

/** N fresh draws of the rows at iterate g (`judgeIterate`), sample-major predictions. */
export interface JudgedIterate {
  g: number;
  rows: readonly number[];
  predictions: Int32Array;
}

/**
 * Judge the iterate of a step-hook call by N fresh purifications (`evaluation.inLoopDraws`): iterate
 * g = restart · steps + step, the point the update of `step` produced. The iterate is valid only during
 * the call, so the evaluator gets a copy, disposed when it is done.
 */
export async function judgeIterate(
  deps: RunnerDeps,
  target: AttackTarget,
  draws: number,
  info: StepInfo,
  labelOf: (sample: number) => number,
): Promise<JudgedIterate> {
  const rows = [...info.sampleIndices];
  const g = info.restart * info.totalSteps + info.step;
  const labels = Int32Array.from(rows, labelOf);
  // runs synchronously up to the await, i.e. during the hook call
  const copy = tf.clone(info.xAdv);
  try {
    const ev = await deps.evaluateRandomized(target, copy, labels, rows, draws);
    return { g, rows, predictions: Int32Array.from(ev.flatMap((e) => e.predictions)) };
  } finally {
    copy.dispose();
  }
}

/**
 * The in-loop draws of an attack, per attacked row. Source `eot`: the draws the attack classified at
 * each iterate (StepInfo.predictions, K per row), iterate g = restart · steps + step − 1. Source
 * `independent`: N fresh purifications of each iterate (`judgeIterate`), g = restart · steps + step.
 */
export class IterateCollector {
  private readonly rowOf = new Map<number, number>();
  private readonly rows: { draws: number; iteration: number[]; correct: number[]; majority: boolean[] }[];
  constructor(
    sampleIndices: readonly number[],
    private readonly labels: Int32Array,
    readonly source: 'eot' | 'independent' = 'eot',
  ) {
    sampleIndices.forEach((s, j) => this.rowOf.set(s, j));
    this.rows = sampleIndices.map(() => ({ draws: 0, iteration: [], correct: [], majority: [] }));
  }
  /** The label of dataset index `sample` (a row of this collector). */
  labelOf(sample: number): number {
    const j = this.rowOf.get(sample);
    if (j === undefined) throw new RangeError(`IterateCollector: sample ${sample} is not attacked in this batch`);
    return this.labels[j];
  }
  /** The attack's own draws at the iterate before the update of a step (source `eot`). */
  add(info: StepInfo): void {
    const preds = info.predictions;
    const rows = info.sampleIndices.length;
    if (!preds || rows === 0) return; // an attack that reports no draws contributes its final evaluation only
    const K = info.draws ?? preds.length / rows;
    if (!Number.isInteger(K) || K < 1 || preds.length !== K * rows) return;
    this.addDraws(info.restart * info.totalSteps + info.step - 1, info.sampleIndices, preds, K);
  }
  /** K draws per row at iterate g (sample-major predictions); an iterate not above the row's last is ignored. */
  addDraws(g: number, sampleIndices: readonly number[], preds: Int32Array, K: number): void {
    sampleIndices.forEach((s, i) => {
      const j = this.rowOf.get(s);
      if (j === undefined) return;
      const row = this.rows[j];
      if (row.iteration.length && (g <= row.iteration[row.iteration.length - 1] || row.draws !== K)) return;
      const p = preds.subarray(i * K, (i + 1) * K);
      let ok = 0;
      for (const v of p) if (v === this.labels[j]) ok++;
      row.draws = K;
      row.iteration.push(g);
      row.correct.push(ok);
      row.majority.push(pluralityCorrect(this.labels[j], p));
    });
  }
  /** Row j's iterates, or undefined when the attack reported none for it. */
  record(j: number): IterateRecord | undefined {
    const r = this.rows[j];
    if (!r.iteration.length) return undefined;
    const rec: IterateRecord = { draws: r.draws, iteration: r.iteration, correct: r.correct, majority: r.majority };
    return this.source === 'independent' ? { ...rec, source: 'independent' } : rec;
  }
}

/** An attack's reported diagnostics must have one entry per row (boolean or null) and a positive step. */
function checkDiagnostics(a: RunAttack, d: AttackDiagnostics, rows: number): void {
  const bad = (what: string): never => {
    throw new SanityCheckError('attack-diagnostics', `attack '${a.name}' (${a.id}) reported malformed diagnostics: ${what}`);
  };
  if (!Array.isArray(d.gradientVanished) || d.gradientVanished.length !== rows)
    bad(`gradientVanished has ${Array.isArray(d.gradientVanished) ? d.gradientVanished.length : 'no'} entries for ${rows} rows`);
  if (d.gradientVanished.some((v) => v !== null && typeof v !== 'boolean')) bad('gradientVanished entries must be true, false or null');
  if (
    d.keptClean !== undefined &&
    (!Array.isArray(d.keptClean) || d.keptClean.length !== rows || d.keptClean.some((v) => typeof v !== 'boolean'))
  )
    bad(`keptClean must hold ${rows} booleans`);
  if (d.stepSize !== undefined && !(typeof d.stepSize === 'number' && d.stepSize > 0 && Number.isFinite(d.stepSize)))
    bad(`stepSize ${d.stepSize} is not a positive number`);
}
