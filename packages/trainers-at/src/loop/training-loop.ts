/**
 * The training loop every trainer shares: seeded data order and augmentation, optimizer with
 * learning-rate schedule, global-norm gradient clipping, EMA, periodic evaluation, a JSONL loss log,
 * an SVG loss curve, and atomic checkpoints (weights + optimizer slots + EMA + RNG state + step) from
 * which a killed run resumes to exactly the weights of an uninterrupted one.
 *
 * Exact resume holds because every random draw of a step comes from one SeededRng whose state is in
 * the checkpoint (augmentation, timesteps, tensor seeds), the epoch order is keyed by the epoch number,
 * and the optimizer/EMA state is restored bit for bit.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  DataFormatError,
  DbpError,
  Journal,
  SeededRng,
  cleanStaleTemporariesIn,
  commitDirectory,
  discardDirectory,
  formatDuration,
  hashJson,
  sha256File,
  stageDirectory,
  writeFileAtomic,
  writeJsonAtomic,
  type Dataset,
  type TrainContext,
  type TrainResult,
} from '@dbp-bench/framework';
import { augmentBatch, type AugmentOptions } from './augment';
import { Ema, type EmaOptions } from './ema';
import { lineChartSvg, type Panel } from './loss-curve';
import { Optimizer, clipByGlobalNorm, learningRate, type NamedParam, type OptimizerOptions, type ScheduleOptions } from './optim';
import { readF32Safetensors, writeF32Safetensors } from './tensor-file';

/** One minibatch as a task sees it: augmented images NHWC in [0,1]. */
export interface TrainBatch {
  readonly images: tf.Tensor4D;
  readonly labels: Int32Array;
  readonly indices: readonly number[];
}

export interface StepOutput {
  /** The minimised loss (a scalar the loop reads and disposes). */
  readonly loss: tf.Scalar;
  /** Gradients aligned with `task.params` (disposed by the loop). */
  readonly grads: tf.Tensor[];
  /** Extra numbers to log for this step (averaged over the log interval). */
  readonly metrics?: Record<string, number>;
}

/** What a trainer plugs into the loop. */
export interface TrainingTask {
  readonly trainerId: string;
  /** Parameters the optimizer updates, with their state-dict names. */
  readonly params: readonly NamedParam[];
  setTraining(training: boolean): void;
  /** Loss and parameter gradients of one step; every random draw must come from `rng`. */
  computeGradients(batch: TrainBatch, rng: SeededRng, step: number): StepOutput;
  /** Deterministic evaluation on held-out data (called with the weights that would be saved). */
  evaluate?(): Promise<Record<string, number>>;
  /** Write every weight of the model (a file loadable by the models package) with extra metadata. */
  saveWeights(file: string, metadata: Record<string, unknown>): void;
  /** Restore every weight (trainable or not, e.g. batch-norm statistics) from a file saveWeights wrote. */
  loadWeights(file: string): void;
}

export interface LoopOptions {
  /** Total optimizer steps. */
  readonly steps: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerOptions;
  readonly schedule: ScheduleOptions;
  /** Global-norm clipping threshold (0 = off). */
  readonly gradClip: number;
  readonly ema: EmaOptions;
  readonly augment: AugmentOptions;
  readonly checkpointEvery: number;
  readonly keepCheckpoints: number;
  readonly logEvery: number;
  /** Evaluate every this many steps; 0 = at the end of every epoch; -1 = only at the end. */
  readonly evalEvery: number;
  readonly seed: number;
}

export interface LoopContext extends TrainContext {
  /** Polled after every step; true stops the run after writing a checkpoint (SIGINT handling). */
  readonly shouldStop?: () => boolean;
  /** The trainer's full options, hashed into checkpoints so a resume with other options is refused. */
  readonly recipe?: unknown;
}

export interface TrainData {
  readonly dataset: Dataset;
  /** Dataset indices used for training. */
  readonly indices: readonly number[];
}

/** Fields that may change between a run and its resume. */
const RESUME_FREE_FIELDS = ['steps', 'epochs', 'checkpointEvery', 'keepCheckpoints', 'logEvery'];

export function recipeHash(recipe: unknown): string {
  if (!recipe || typeof recipe !== 'object') return hashJson(recipe ?? null);
  const r = { ...(recipe as Record<string, unknown>) };
  for (const k of RESUME_FREE_FIELDS) delete r[k];
  return hashJson(r);
}

export interface CheckpointState {
  readonly format: 'dbp-bench-train-checkpoint';
  readonly version: 1;
  readonly trainer: string;
  readonly step: number;
  readonly totalSteps: number;
  readonly rng: { seed: number; counter: number; pos: number };
  readonly optimizer: { type: string; stepCount: number };
  readonly ema: { updates: number } | null;
  readonly recipeHash: string;
  readonly time: string;
}

const CKPT_DIR = 'checkpoints';
const POINTER = 'checkpoint.json';
export const LOSS_LOG = 'loss.jsonl';
export const LOSS_SVG = 'loss.svg';
export const FINAL_WEIGHTS = 'model.safetensors';
export const RESULT_FILE = 'result.json';

/** The newest complete checkpoint in `outDir`, or undefined. */
export function findLatestCheckpoint(outDir: string): { dir: string; state: CheckpointState } | undefined {
  const pointer = path.join(outDir, POINTER);
  if (fs.existsSync(pointer)) {
    const p = JSON.parse(fs.readFileSync(pointer, 'utf8')) as { latest: string };
    const dir = path.join(outDir, p.latest);
    const st = path.join(dir, 'state.json');
    if (fs.existsSync(st)) return { dir, state: JSON.parse(fs.readFileSync(st, 'utf8')) as CheckpointState };
  }
  // The pointer is written last; without it, take the highest complete step directory.
  const root = path.join(outDir, CKPT_DIR);
  if (!fs.existsSync(root)) return undefined;
  const dirs = fs
    .readdirSync(root)
    .filter((d) => /^step-\d+$/.test(d) && fs.existsSync(path.join(root, d, 'state.json')))
    .sort();
  if (!dirs.length) return undefined;
  const dir = path.join(root, dirs[dirs.length - 1]);
  return { dir, state: JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as CheckpointState };
}

interface LogRecord {
  kind: 'train' | 'eval';
  step: number;
  [k: string]: number | string;
}

/** Write the loss-curve SVG from the records of a loss log. */
export function writeLossCurve(file: string, records: readonly LogRecord[], title: string): void {
  const train = records.filter((r) => r.kind === 'train');
  const evals = records.filter((r) => r.kind === 'eval');
  const panels: Panel[] = [
    {
      title: 'training loss',
      yLabel: 'loss',
      series: [{ name: 'train loss', points: train.map((r) => [r.step, Number(r.loss)] as [number, number]) }],
    },
  ];
  const evalKeys = [...new Set(evals.flatMap((r) => Object.keys(r)))].filter(
    (k) => !['kind', 'step', 'epoch', 'time', 'seconds'].includes(k),
  );
  const accKeys = evalKeys.filter((k) => /acc/i.test(k));
  const otherKeys = evalKeys.filter((k) => !/acc/i.test(k));
  const series = (keys: string[]) =>
    keys.map((k) => ({
      name: k,
      points: evals.filter((r) => typeof r[k] === 'number').map((r) => [r.step, r[k] as number] as [number, number]),
    }));
  if (accKeys.length) panels.push({ title: 'evaluation (held-out)', yLabel: 'accuracy', series: series(accKeys), logY: false });
  if (otherKeys.length) panels.push({ title: 'evaluation (held-out)', yLabel: 'value', series: series(otherKeys) });
  writeFileAtomic(file, lineChartSvg(panels, { title, xLabel: 'step' }));
}

/**
 * Run (or resume) training. Writes to `ctx.outDir`: `checkpoints/step-N/{model,optimizer,ema}.safetensors
 * + state.json`, `checkpoint.json`, `loss.jsonl`, `loss.svg`, and at the end `model.safetensors`
 * (EMA weights when EMA is on) and `result.json`.
 */
export async function runTraining(task: TrainingTask, data: TrainData, options: LoopOptions, ctx: LoopContext): Promise<TrainResult> {
  const out = path.resolve(ctx.outDir);
  fs.mkdirSync(out, { recursive: true });
  const logger = ctx.logger;
  const n = data.indices.length;
  const spe = Math.floor(n / options.batchSize);
  if (spe < 1)
    throw new ConfigValidationError(`trainer '${task.trainerId}'`, [
      `$.batchSize: ${options.batchSize} is larger than the training set (${n} samples)`,
    ]);
  const total = options.steps;
  const hash = recipeHash(ctx.recipe);

  // Leftovers of writes interrupted by a kill: staged checkpoints, temporaries of the files in `out`.
  const ckRoot = path.join(out, CKPT_DIR);
  for (const n of [...cleanStaleTemporariesIn(ckRoot), ...cleanStaleTemporariesIn(out)])
    logger.info(`removed ${n}, left by an interrupted write`);

  const optimizer = new Optimizer(options.optimizer, task.params);
  const ema = options.ema.enabled ? new Ema(options.ema, task.params) : undefined;
  let rng = new SeededRng(options.seed, 'train');
  let start = 0;

  const latest = ctx.resume === false ? undefined : findLatestCheckpoint(out);
  if (latest) {
    const st = latest.state;
    if (st.format !== 'dbp-bench-train-checkpoint' || st.trainer !== task.trainerId) {
      throw new DataFormatError(
        path.join(latest.dir, 'state.json'),
        `not a checkpoint of trainer '${task.trainerId}' (found trainer '${st.trainer}')`,
      );
    }
    if (st.recipeHash !== hash) {
      throw new DbpError(
        'E_CONFIG',
        `${out} holds a checkpoint written with other trainer options (recipe hash ${st.recipeHash}, now ${hash}); resume with the same config or choose another output directory`,
      );
    }
    task.loadWeights(path.join(latest.dir, 'model.safetensors'));
    if (optimizer.slotNames().length)
      optimizer.loadState(
        readF32Safetensors(path.join(latest.dir, 'optimizer.safetensors')).tensors,
        st.optimizer.stepCount,
        path.join(latest.dir, 'optimizer.safetensors'),
      );
    else optimizer.loadState(new Map(), st.optimizer.stepCount, latest.dir);
    if (ema) {
      if (!st.ema) throw new DataFormatError(latest.dir, 'the checkpoint has no EMA state but EMA is enabled');
      ema.loadState(
        readF32Safetensors(path.join(latest.dir, 'ema.safetensors')).tensors,
        st.ema.updates,
        path.join(latest.dir, 'ema.safetensors'),
      );
    }
    rng = SeededRng.fromState(st.rng, 'train');
    start = st.step;
    logger.info(`${task.trainerId}: resuming from ${path.relative(process.cwd(), latest.dir) || latest.dir} (step ${start}/${total})`);
  } else if (ctx.resume !== false && fs.existsSync(path.join(out, LOSS_LOG))) {
    // A previous run died before its first checkpoint: start over.
    fs.rmSync(path.join(out, LOSS_LOG));
  }

  // Keep the loss log consistent with the checkpoint: drop records of steps that will be redone.
  const logFile = path.join(out, LOSS_LOG);
  const kept = Journal.read<LogRecord>(logFile).filter((r) => r.step <= start);
  if (ctx.resume === false || !latest) {
    if (fs.existsSync(logFile)) fs.rmSync(logFile);
  } else {
    writeFileAtomic(logFile, kept.map((r) => JSON.stringify(r) + '\n').join(''));
  }
  const records: LogRecord[] = latest ? kept : [];
  const journal = new Journal<LogRecord>(logFile);

  const evalAt = (s: number): boolean => {
    if (!task.evaluate) return false;
    if (s === total) return true;
    if (options.evalEvery > 0) return s % options.evalEvery === 0;
    if (options.evalEvery === 0) return s % spe === 0;
    return false;
  };

  const writeCheckpoint = (step: number): void => {
    const name = `step-${String(step).padStart(8, '0')}`;
    const dir = path.join(ckRoot, name);
    const tmp = stageDirectory(dir);
    task.saveWeights(path.join(tmp, 'model.safetensors'), { trainer: task.trainerId, step, ema: false });
    writeF32Safetensors(path.join(tmp, 'optimizer.safetensors'), optimizer.stateTensors(), {
      type: options.optimizer.type,
      step: String(optimizer.stepCount),
    });
    if (ema) writeF32Safetensors(path.join(tmp, 'ema.safetensors'), ema.stateTensors(), { updates: String(ema.updates) });
    const state: CheckpointState = {
      format: 'dbp-bench-train-checkpoint',
      version: 1,
      trainer: task.trainerId,
      step,
      totalSteps: total,
      rng: rng.state(),
      optimizer: { type: options.optimizer.type, stepCount: optimizer.stepCount },
      ema: ema ? { updates: ema.updates } : null,
      recipeHash: hash,
      time: new Date().toISOString(),
    };
    writeJsonAtomic(path.join(tmp, 'state.json'), state);
    commitDirectory(tmp, dir);
    writeJsonAtomic(path.join(out, POINTER), { latest: path.join(CKPT_DIR, name), step });
    const all = fs
      .readdirSync(ckRoot)
      .filter((d) => /^step-\d+$/.test(d))
      .sort();
    for (const old of all.slice(0, Math.max(0, all.length - Math.max(1, options.keepCheckpoints))))
      discardDirectory(path.join(ckRoot, old));
    writeLossCurve(path.join(out, LOSS_SVG), records, `${task.trainerId}: ${path.basename(out)}`);
  };

  const runEval = async (step: number): Promise<void> => {
    task.setTraining(false);
    const t0 = Date.now();
    const metrics = ema ? await ema.withShadowWeights(() => task.evaluate!()) : await task.evaluate!();
    const rec: LogRecord = { kind: 'eval', step, epoch: step / spe, ...metrics, seconds: (Date.now() - t0) / 1000 };
    records.push(rec);
    journal.append(rec);
    logger.info(
      `${task.trainerId}: eval at step ${step}: ${Object.entries(metrics)
        .map(([k, v]) => `${k}=${fmtNum(v)}`)
        .join(' ')}`,
    );
  };

  const progress = logger.progress(`train ${task.trainerId}`, total, start);
  const t0 = Date.now();
  let done = 0;
  let acc: Record<string, number> = {};
  let accN = 0;
  let perm: { epoch: number; order: number[] } | undefined;
  let lastLoss = NaN;
  let stopped = false;
  try {
    for (let s = start; s < total; s++) {
      const epoch = Math.floor(s / spe);
      if (!perm || perm.epoch !== epoch) perm = { epoch, order: new SeededRng(options.seed, `shuffle:${epoch}`).shuffle(data.indices) };
      const pos = s % spe;
      const idx = perm.order.slice(pos * options.batchSize, (pos + 1) * options.batchSize);
      const raw = await data.dataset.get(idx);
      const images = augmentBatch(raw.images, options.augment, rng);
      raw.images.dispose();
      task.setTraining(true);
      const lr = learningRate(options.schedule, options.optimizer.lr, s, total);
      let lossValue: number;
      let gradNorm: number;
      let metrics: Record<string, number> | undefined;
      try {
        // Unseeded tf random ops (tf.dropout inside models) seed themselves from Math.random: route it
        // through the run's generator for the duration of the (synchronous) step so the step is exact.
        const outp = withSeededMathRandom(rng, () => task.computeGradients({ images, labels: raw.labels, indices: raw.indices }, rng, s));
        lossValue = outp.loss.dataSync()[0];
        outp.loss.dispose();
        metrics = outp.metrics;
        if (!Number.isFinite(lossValue)) {
          outp.grads.forEach((g) => g.dispose());
          throw new DbpError(
            'E_DIVERGED',
            `${task.trainerId}: the loss is ${lossValue} at step ${s + 1}; lower the learning rate or enable gradient clipping (resume restarts from the last checkpoint)`,
          );
        }
        const clipped = clipByGlobalNorm(outp.grads, options.gradClip);
        gradNorm = clipped.norm;
        optimizer.step(clipped.grads, lr);
        for (const g of new Set([...outp.grads, ...clipped.grads])) g.dispose();
      } finally {
        images.dispose();
      }
      ema?.update();
      lastLoss = lossValue;
      done++;
      const step = s + 1;
      acc.loss = (acc.loss ?? 0) + lossValue;
      acc.gradNorm = (acc.gradNorm ?? 0) + gradNorm;
      for (const [k, v] of Object.entries(metrics ?? {})) acc[k] = (acc[k] ?? 0) + v;
      accN++;
      if (step % options.logEvery === 0 || step === total) {
        const rec: LogRecord = { kind: 'train', step, epoch: Number((step / spe).toFixed(4)), lr };
        for (const [k, v] of Object.entries(acc)) rec[k] = v / accN;
        records.push(rec);
        journal.append(rec);
        acc = {};
        accN = 0;
      }
      progress.tick(1, `loss ${fmtNum(lossValue)}`);
      // Let the event loop run (signal handlers such as the CLI's SIGINT, timers) between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (evalAt(step)) await runEval(step);
      const stopNow = (ctx.stopAfterSteps !== undefined && done >= ctx.stopAfterSteps && step < total) || (ctx.shouldStop?.() ?? false);
      if (step % options.checkpointEvery === 0 || step === total || stopNow) {
        writeCheckpoint(step);
        const rate = (Date.now() - t0) / 1000 / done;
        logger.info(
          `${task.trainerId}: step ${step}/${total} loss ${fmtNum(lossValue)} lr ${fmtNum(lr)} (${rate.toFixed(2)} s/step, ETA ${formatDuration(rate * (total - step))}); checkpoint written`,
        );
      }
      if (stopNow && step < total) {
        stopped = true;
        break;
      }
    }
  } finally {
    progress.done();
    journal.close();
  }

  const finalFile = path.join(out, FINAL_WEIGHTS);
  const endStep = start + done;
  if (stopped) {
    writeLossCurve(path.join(out, LOSS_SVG), records, `${task.trainerId}: ${path.basename(out)}`);
    logger.info(`${task.trainerId}: stopped at step ${endStep}/${total}; resume with the same command and --resume`);
    optimizer.dispose();
    ema?.dispose();
    return { weights: finalFile, steps: endStep, partial: true, finalLoss: lastLoss };
  }
  const meta = { trainer: task.trainerId, steps: total, ema: Boolean(ema), recipeHash: hash };
  if (ema) await ema.withShadowWeights(() => task.saveWeights(finalFile, meta));
  else task.saveWeights(finalFile, meta);
  writeLossCurve(path.join(out, LOSS_SVG), records, `${task.trainerId}: ${path.basename(out)}`);
  const trainLosses = records.filter((r) => r.kind === 'train');
  const finalLoss = Number.isFinite(lastLoss) ? lastLoss : Number(trainLosses[trainLosses.length - 1]?.loss ?? NaN);
  const lastEval = records.filter((r) => r.kind === 'eval').pop();
  writeJsonAtomic(path.join(out, RESULT_FILE), {
    trainer: task.trainerId,
    weights: FINAL_WEIGHTS,
    sha256: await sha256File(finalFile),
    steps: total,
    ema: Boolean(ema),
    finalLoss,
    lastEval: lastEval ?? null,
    recipeHash: hash,
    recipe: ctx.recipe ?? null,
  });
  optimizer.dispose();
  ema?.dispose();
  logger.info(`${task.trainerId}: done, ${total} steps; weights ${finalFile}`);
  return { weights: finalFile, steps: total, partial: false, finalLoss };
}

/**
 * Run a synchronous `fn` with Math.random drawing from `rng`, restoring the original afterwards.
 * tfjs random ops without an explicit seed (e.g. tf.dropout) take their seed from Math.random.
 */
export function withSeededMathRandom<T>(rng: SeededRng, fn: () => T): T {
  const original = Math.random;
  Math.random = () => rng.uniform();
  try {
    const r = fn();
    if (r && typeof (r as { then?: unknown }).then === 'function')
      throw new DbpError('E_ASSERT', 'withSeededMathRandom: fn must be synchronous');
    return r;
  } finally {
    Math.random = original;
  }
}

/** A nonzero 32-bit seed for tf.random* ops (tfjs treats seed 0 as "no seed"). */
export function tfSeed(rng: SeededRng): number {
  return rng.nextUint32() || 1;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}
