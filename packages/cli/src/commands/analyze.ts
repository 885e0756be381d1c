/**
 * `dbp-bench analyze trajectories | landscape`: the stochasticity analyses of ALGORITHMS.md §10 on one
 * image, each writing a JSON report and an SVG figure into --out. A rerun with the same inputs (files
 * by sha256, options) finds the report and writes nothing unless --force. Ctrl-C/SIGTERM finishes the
 * current attack run and exits 130: trajectories keeps its finished runs in --out (the same command
 * resumes from them), landscape writes nothing (three units; a figure needs all of them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { ConfigValidationError, DataFormatError, ShapeMismatchError, formatNumber, sha256File, type Defense } from '@dbp-bench/framework';
import { openDataset } from '@dbp-bench/datasets';
import { loadClassifier, readSafetensors, writeSafetensors } from '@dbp-bench/models';
import {
  AnalysisStopped,
  analyzeLandscape,
  analyzeTrajectories,
  landscapeReportFiles,
  trajectoryReportFiles,
  writeLandscapeReport,
  writeTrajectoryReport,
  type TrajectoryRunRecord,
} from '@dbp-bench/attacks';
import type { CliContext } from '../context';
import type { AddCommand } from './types';
import { dataDirOption, datasetOptionsFromFlags } from './dataset-args';
import { rerunCommand, typedArgs, withStopSignals } from '../signals';

function intOption(name: string, min: number) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v) || Number(v) < min)
      throw new ConfigValidationError(`option ${name}`, [`expected an integer >= ${min}, got '${v}'`]);
    return Number(v);
  };
}

/** A number or a fraction such as `8/255`. */
function numberOption(name: string, min = 0) {
  return (v: string): number => {
    const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+))?\s*$/.exec(v);
    const n = m ? Number(m[1]) / (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
    if (!Number.isFinite(n) || n < min)
      throw new ConfigValidationError(`option ${name}`, [`expected a number >= ${min} (e.g. 0.5 or 8/255), got '${v}'`]);
    return n;
  };
}

/** `--set key=value` (repeatable): a defense option; the value is parsed as JSON when it is JSON. */
function collectSet(v: string, prev: Record<string, unknown> = {}): Record<string, unknown> {
  const i = v.indexOf('=');
  if (i <= 0) throw new ConfigValidationError('option --set', [`expected key=value, got '${v}'`]);
  let value: unknown = v.slice(i + 1);
  try {
    value = JSON.parse(v.slice(i + 1));
  } catch {
    // a plain string
  }
  return { ...prev, [v.slice(0, i)]: value };
}

interface CommonOptions {
  defense: string;
  weights?: string;
  set?: Record<string, unknown>;
  classifier: string;
  data: string;
  dataDir?: string;
  split: string;
  index: number;
  eps?: number;
  stepSize?: number;
  steps: number;
  eot: number;
  lossDraws: number;
  seed: number;
  microBatch: number;
  out: string;
  force?: boolean;
}

function common(cmd: Command, defaultOut: string): Command {
  return dataDirOption(
    cmd
      .requiredOption('--defense <id>', 'defense plugin id (dp-ddpm, dp-ddim, diffpure, identity, or a --plugin one)')
      .option('--weights <file>', 'UNet safetensors of the diffusion defense (option `weights`)')
      .option('--set <key=value>', 'a defense option, e.g. --set numInferenceSteps=100 (repeatable)', collectSet)
      .requiredOption('--classifier <file>', 'classifier safetensors (dbp-bench format)')
      .requiredOption('--data <id>', 'dataset plugin id (cifar10, mnist, synthetic, ...)'),
  )
    .option('--split <name>', 'dataset split', 'test')
    .option('--index <i>', 'dataset index of the image', intOption('--index', 0), 0)
    .option('--eps <v>', 'l_inf budget in [0,1] units, a number or a fraction (default: 8/255)', numberOption('--eps'))
    .option('--step-size <v>', 'PGD step size (default: 2/255)', numberOption('--step-size'))
    .option('--steps <k>', 'PGD iterations', intOption('--steps', 1), 20)
    .option('--eot <k>', 'EoT samples of the white-box-EoT run(s)', intOption('--eot', 1), 10)
    .option('--loss-draws <k>', 'noise draws averaged for the loss of a point', intOption('--loss-draws', 0), 16)
    .option('--seed <s>', 'seed of the noise', intOption('--seed', 0), 0)
    .option('--micro-batch <k>', 'rows per forward(+backward) pass', intOption('--micro-batch', 1), 16)
    .option('--out <dir>', 'output directory for the JSON report and the SVG figure', defaultOut)
    .option('--force', 'recompute even when --out already holds this analysis made with the same inputs');
}

/**
 * What the analysis is computed from, as recorded in its report (`inputs`): the files (with their
 * sha256), the defense and dataset options, the image and the protocol flags (not --micro-batch, which
 * only splits the work). A rerun whose inputs equal a report's skips it.
 */
async function analysisInputs(analysis: 'trajectories' | 'landscape', opts: CommonOptions, extra: Record<string, number>) {
  // a missing file is reported by the loading, in its usual order
  const file = async (f: string) => ({ file: path.resolve(f), sha256: fs.existsSync(f) ? await sha256File(path.resolve(f)) : null });
  const inputs = {
    analysis,
    classifier: await file(opts.classifier),
    defense: { id: opts.defense, options: opts.set ?? {}, weights: opts.weights !== undefined ? await file(opts.weights) : null },
    data: { id: opts.data, split: opts.split, dir: opts.dataDir !== undefined ? path.resolve(opts.dataDir) : null, index: opts.index },
    protocol: {
      eps: opts.eps ?? null,
      stepSize: opts.stepSize ?? null,
      steps: opts.steps,
      eot: opts.eot,
      lossDraws: opts.lossDraws,
      seed: opts.seed,
      ...extra,
    },
  };
  return JSON.parse(JSON.stringify(inputs)) as Record<string, unknown>;
}

/** True when both files of a report exist and its JSON records exactly these inputs. */
function alreadyDone(files: { json: string; svg: string }, inputs: Record<string, unknown>): boolean {
  if (!fs.existsSync(files.json) || !fs.existsSync(files.svg)) return false;
  try {
    return isDeepStrictEqual((JSON.parse(fs.readFileSync(files.json, 'utf8')) as { inputs?: unknown }).inputs, inputs);
  } catch {
    return false;
  }
}

async function load(ctx: CliContext, opts: CommonOptions) {
  await ctx.backend();
  const registry = ctx.registry();
  const dataOptions = datasetOptionsFromFlags(registry, opts.data, opts);
  const dataset = await openDataset(opts.data, dataOptions, { registry, logger: ctx.logger, baseDir: process.cwd() });
  if (opts.index >= dataset.info.size) {
    throw new ConfigValidationError('option --index', [
      `index ${opts.index} requested but the ${dataset.info.id} ${dataset.info.split} split has ${dataset.info.size} images`,
    ]);
  }
  const classifier = await loadClassifier(path.resolve(opts.classifier));
  if (classifier.numClasses !== dataset.info.numClasses) {
    classifier.dispose();
    throw new ShapeMismatchError(
      `classifier ${opts.classifier} has ${classifier.numClasses} classes but dataset ${dataset.info.id} has ${dataset.info.numClasses}`,
    );
  }
  classifier.setTraining(false);
  const defenseOptions: Record<string, unknown> = { ...(opts.set ?? {}) };
  if (opts.weights !== undefined) defenseOptions.weights = opts.weights;
  let defense: Defense;
  try {
    defense = await registry
      .createScope({ logger: ctx.logger, baseDir: process.cwd() })
      .create<Defense>('defense', opts.defense, defenseOptions);
  } catch (e) {
    classifier.dispose();
    throw e;
  }
  const batch = await dataset.get([opts.index]);
  return { classifier, defense, x: batch.images, label: batch.labels[0] };
}

type Loaded = Awaited<ReturnType<typeof load>>;

/** Load classifier, defense and image, run `f`, and free all three whatever happens. */
async function withLoaded(ctx: CliContext, opts: CommonOptions, f: (l: Loaded) => Promise<void>): Promise<void> {
  const loaded = await load(ctx, opts);
  try {
    await f(loaded);
  } finally {
    tf.dispose(loaded.x);
    loaded.classifier.dispose();
    loaded.defense.dispose?.();
  }
}

/** The attack and loss options both analyses take from the common flags. */
function attackOptions(ctx: CliContext, opts: CommonOptions) {
  return {
    eps: opts.eps,
    stepSize: opts.stepSize,
    steps: opts.steps,
    eotSamples: opts.eot,
    seed: opts.seed,
    microBatch: opts.microBatch,
    logger: ctx.logger,
  };
}

/** File of the finished attack runs of an interrupted trajectory analysis, in its --out directory. */
export const TRAJECTORY_PARTIAL = 'trajectories.partial.safetensors';
const PARTIAL_FORMAT = 'dbp-bench-trajectories-partial';

/**
 * The finished runs kept in `file` by an interrupted trajectory analysis with these inputs; none when
 * there is no such file, or (with a note) when it was made with other inputs: it is then replaced.
 */
function readTrajectoryPartial(ctx: CliContext, file: string, inputs: Record<string, unknown>): TrajectoryRunRecord[] {
  if (!fs.existsSync(file)) return [];
  const c = readSafetensors(file);
  if (c.metadata.format !== PARTIAL_FORMAT || c.metadata.inputs === undefined || c.metadata.runs === undefined)
    throw new DataFormatError(file, `not a partial trajectory analysis (metadata format '${PARTIAL_FORMAT}', inputs and runs expected)`);
  if (!isDeepStrictEqual(JSON.parse(c.metadata.inputs), inputs)) {
    ctx.logger.info(`${file} holds runs of an analysis with other inputs: starting over (it will be replaced)`);
    return [];
  }
  const meta = JSON.parse(c.metadata.runs) as Omit<TrajectoryRunRecord, 'deltas'>[];
  const runs = meta.map((m, k) => {
    const t = c.tensors.get(`run${k}`);
    if (!t || t.dtype !== 'F32' || t.shape.length !== 2) throw new DataFormatError(file, `tensor run${k}: expected F32 [iterates, values]`);
    const [n, per] = t.shape;
    const data = t.data as Float32Array;
    return { ...m, deltas: Array.from({ length: n }, (_, i) => data.slice(i * per, (i + 1) * per)) };
  });
  ctx.logger.info(`resuming from ${file}: ${runs.length} attack runs done`);
  return runs;
}

/** Keep the finished runs (atomically): each as an F32 [iterates, values] tensor, the rest as metadata. */
function writeTrajectoryPartial(file: string, inputs: Record<string, unknown>, runs: readonly TrajectoryRunRecord[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tensors = Object.fromEntries(
    runs.map((r, k) => {
      const per = r.deltas[0].length;
      const data = new Float32Array(r.deltas.length * per);
      r.deltas.forEach((d, i) => data.set(d, i * per));
      return [`run${k}`, { dtype: 'F32', shape: [r.deltas.length, per], data }];
    }),
  );
  const meta = runs.map(({ group, seed, eot, eotGradientCosine, notes }) => ({ group, seed, eot, eotGradientCosine, notes }));
  writeSafetensors(file, tensors, { format: PARTIAL_FORMAT, inputs: JSON.stringify(inputs), runs: JSON.stringify(meta) });
}

/** How one analysis command is run by runAnalysis. */
interface AnalysisCommand<R> {
  analysis: 'trajectories' | 'landscape';
  /** Protocol flags of this analysis besides the common ones (recorded in `inputs`). */
  extra: Record<string, number>;
  /** Where the finished runs of an interrupted analysis are kept (resumable); none: it starts over. */
  partial?: string;
  compute(l: Loaded, shouldStop: () => boolean, inputs: Record<string, unknown>): Promise<R>;
  write(report: R & { inputs: Record<string, unknown> }, out: string): { json: string; svg: string };
  summary(report: R): string;
}

/**
 * Run one analysis command: skip it when --out holds it already (unless --force); else compute it
 * with Ctrl-C/SIGTERM handled (the current attack run finishes; the finished runs are kept when the
 * analysis can resume, else nothing is written; exit 130), write the report and drop the kept runs.
 */
async function runAnalysis<R>(
  ctx: CliContext,
  program: Command,
  result: { code: number },
  opts: CommonOptions,
  a: AnalysisCommand<R>,
): Promise<void> {
  const out = path.resolve(opts.out);
  const files = a.analysis === 'trajectories' ? trajectoryReportFiles(out) : landscapeReportFiles(out);
  const inputs = await analysisInputs(a.analysis, opts, a.extra);
  if (!opts.force && alreadyDone(files, inputs)) {
    ctx.out(
      `${files.json}\n${files.svg}\nthe ${a.analysis} analysis is complete (made with these inputs); nothing to do (--force recomputes)`,
    );
    return;
  }
  const rerun = rerunCommand(typedArgs(program));
  const kept = (): string =>
    a.partial && fs.existsSync(a.partial)
      ? `the finished attack runs are kept in ${a.partial}; resume with: ${rerun}`
      : `nothing was written (${out} is as it was); to compute it: ${rerun}`;
  await withLoaded(ctx, opts, async (loaded) => {
    let report: R;
    try {
      report = await withStopSignals(
        ctx.logger,
        {
          unit: 'attack run',
          keeps: a.partial ? 'keeping the finished runs' : 'then writing nothing (the figure needs all its runs)',
          abandon: () => `${kept()[0].toUpperCase()}${kept().slice(1)}`,
        },
        (stop) => a.compute(loaded, stop.requested, inputs),
      );
    } catch (e) {
      if (!(e instanceof AnalysisStopped)) throw e;
      ctx.err(`interrupted after ${e.done}/${e.total} ${e.units}: ${kept()}`);
      result.code = 130;
      return;
    }
    const written = a.write({ ...report, inputs }, out);
    if (a.partial) fs.rmSync(a.partial, { force: true });
    ctx.out(`${written.json}\n${written.svg}\n${a.summary(report)}`);
  });
}

export const addAnalyzeCommand: AddCommand = (program, context, result) => {
  const analyze = program.command('analyze').description('stochasticity analyses of a DBP defense (attack trajectories, loss landscape)');

  common(
    analyze
      .command('trajectories')
      .description(
        'PGD trajectories of white-box runs (different seeds), white-box-EoT runs and one DW-box run: PCA projection, loss per step, cosine similarities (JSON + SVG)',
      )
      .option('--runs <k>', 'runs per stochastic group', intOption('--runs', 1), 10),
    'analysis-trajectories',
  ).action(async (opts: CommonOptions & { runs: number }) => {
    const ctx = context();
    const partial = path.join(path.resolve(opts.out), TRAJECTORY_PARTIAL);
    await runAnalysis(ctx, program, result, opts, {
      analysis: 'trajectories',
      extra: { runs: opts.runs },
      partial,
      compute: ({ classifier, defense, x, label }, shouldStop, inputs) => {
        const resume = opts.force ? [] : readTrajectoryPartial(ctx, partial, inputs);
        const runs = [...resume];
        return analyzeTrajectories(classifier, defense, x, label, opts.index, {
          ...attackOptions(ctx, opts),
          runs: opts.runs,
          lossDraws: Math.max(1, opts.lossDraws),
          shouldStop,
          resume,
          onRun: (run) => {
            runs.push(run);
            writeTrajectoryPartial(partial, inputs, runs);
          },
        });
      },
      write: writeTrajectoryReport,
      summary: (report) => {
        const s = report.summary;
        return (
          `final loss: white-box ${formatNumber(s.finalLoss['white-box'].mean)}, white-box-EoT ${formatNumber(s.finalLoss['white-box-eot'].mean)}, ` +
          `DW-box ${formatNumber(s.finalLoss['dw-box'].mean)} (its fixed noise ${formatNumber(s.dwFinalLossFixedNoise)})` +
          (report.notes.length ? `\n${report.notes.join('\n')}` : '')
        );
      },
    });
  });

  common(
    analyze
      .command('landscape')
      .description(
        'loss over the plane of the DW-box direction and the residual white-box-EoT direction, with both trajectories (JSON + SVG)',
      )
      .option('--grid <k>', 'grid points per axis', intOption('--grid', 2), 21)
      .option('--extent <v>', 'axis range [0, v] in units of ||d_DW||_2', numberOption('--extent', 0), 2),
    'analysis-landscape',
  ).action(async (opts: CommonOptions & { grid: number; extent: number }) => {
    const ctx = context();
    await runAnalysis(ctx, program, result, opts, {
      analysis: 'landscape',
      extra: { grid: opts.grid, extent: opts.extent },
      compute: ({ classifier, defense, x, label }, shouldStop) =>
        analyzeLandscape(classifier, defense, x, label, opts.index, {
          ...attackOptions(ctx, opts),
          grid: opts.grid,
          extent: opts.extent,
          lossDraws: opts.lossDraws,
          shouldStop,
        }),
      write: writeLandscapeReport,
      summary: (report) => {
        const flat = report.lossFixedNoise.flat();
        return (
          `||d_DW||_2 = ${report.axes.unit.toFixed(4)}, cos(d_DW, d_EoT) = ${formatNumber(report.axes.cosineDwEot)}, ` +
          `fixed-noise loss ${formatNumber(Math.min(...flat))}..${formatNumber(Math.max(...flat))}`
        );
      },
    });
  });
};
