/**
 * `dbp-bench analyze trajectories | landscape`: the stochasticity analyses of ALGORITHMS.md §10 on one
 * image, each writing a JSON report and an SVG figure into --out.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Command } from 'commander';
import { ConfigValidationError, ShapeMismatchError, formatNumber, type Defense } from '@dbp-bench/framework';
import { openDataset } from '@dbp-bench/datasets';
import { loadClassifier } from '@dbp-bench/models';
import { analyzeLandscape, analyzeTrajectories, writeLandscapeReport, writeTrajectoryReport } from '@dbp-bench/attacks';
import type { CliContext } from '../context';
import type { AddCommand } from './types';
import { dataDirOption, datasetOptionsFromFlags } from './dataset-args';

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
    .option('--out <dir>', 'output directory for the JSON report and the SVG figure', defaultOut);
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

export const addAnalyzeCommand: AddCommand = (program, context) => {
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
    await withLoaded(ctx, opts, async ({ classifier, defense, x, label }) => {
      const report = await analyzeTrajectories(classifier, defense, x, label, opts.index, {
        ...attackOptions(ctx, opts),
        runs: opts.runs,
        lossDraws: Math.max(1, opts.lossDraws),
      });
      const files = writeTrajectoryReport(report, path.resolve(opts.out));
      const s = report.summary;
      ctx.out(
        `${files.json}\n${files.svg}\nfinal loss: white-box ${formatNumber(s.finalLoss['white-box'].mean)}, white-box-EoT ${formatNumber(s.finalLoss['white-box-eot'].mean)}, ` +
          `DW-box ${formatNumber(s.finalLoss['dw-box'].mean)} (its fixed noise ${formatNumber(s.dwFinalLossFixedNoise)})` +
          (report.notes.length ? `\n${report.notes.join('\n')}` : ''),
      );
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
    await withLoaded(ctx, opts, async ({ classifier, defense, x, label }) => {
      const report = await analyzeLandscape(classifier, defense, x, label, opts.index, {
        ...attackOptions(ctx, opts),
        grid: opts.grid,
        extent: opts.extent,
        lossDraws: opts.lossDraws,
      });
      const files = writeLandscapeReport(report, path.resolve(opts.out));
      const flat = report.lossFixedNoise.flat();
      ctx.out(
        `${files.json}\n${files.svg}\n||d_DW||_2 = ${report.axes.unit.toFixed(4)}, cos(d_DW, d_EoT) = ${formatNumber(report.axes.cosineDwEot)}, ` +
          `fixed-noise loss ${formatNumber(Math.min(...flat))}..${formatNumber(Math.max(...flat))}`,
      );
    });
  });
};
