/**
 * The options every trainer shares (JSON Schema fragments with defaults) and how they become the
 * loop's options: run length in steps or epochs, batch size, optimizer, schedule, clipping, EMA,
 * augmentation, checkpoint/log/eval cadence, seed, and the training dataset.
 */
import { ConfigValidationError, type Dataset, type OptionsOf, type PluginContext } from '@dbp-bench/framework';
import { selectSubsetAsync } from '@dbp-bench/datasets';
import { augmentSchema, type AugmentOptions } from './augment';
import { emaSchema, type EmaOptions } from './ema';
import { optimizerSchema, scheduleSchema, type OptimizerOptions, type ScheduleOptions } from './optim';
import type { LoopOptions, TrainData } from './training-loop';

/** `{id, options, subset}`: a dataset plugin, its options, and how many of its samples to use (evenly spaced; 0 = all). */
export type DatasetRef = OptionsOf<ReturnType<typeof datasetRefSchema>>;

export function datasetRefSchema(defaults: { split: string; description: string }) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['id'],
    description: defaults.description,
    properties: {
      id: { type: 'string', description: 'Dataset plugin id (mnist, cifar10, synthetic, ...).' },
      options: {
        type: 'object',
        default: { split: defaults.split },
        description: 'Options of the dataset plugin (validated by its schema), e.g. {"split": "train", "dir": "..."}.',
      },
      subset: {
        type: 'integer',
        minimum: 0,
        default: 0,
        description: 'Use only n evenly spaced samples (index floor(i*size/n); 0 = all).',
      },
    },
  } as const;
}

/** Per-trainer defaults of the shared options. */
export interface TrainDefaults {
  readonly batchSize?: number;
  readonly optimizer?: Partial<OptimizerOptions>;
  readonly schedule?: Partial<ScheduleOptions>;
  readonly gradClip?: number;
  readonly ema?: Partial<EmaOptions>;
  readonly augment?: Partial<AugmentOptions>;
  readonly checkpointEvery?: number;
}

/** A copy of an object schema with some property defaults replaced. */
export function withDefaults<S extends { properties: Record<string, unknown> }>(
  schema: S,
  defaults: Record<string, unknown> | undefined,
): S {
  if (!defaults) return schema;
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema.properties)) {
    properties[k] = k in defaults ? { ...(v as object), default: defaults[k] } : v;
  }
  return { ...schema, properties };
}

/** The run options shared by every trainer (spread into a trainer's schema `properties`). */
export function commonTrainProperties(d: TrainDefaults = {}) {
  return {
    dataset: datasetRefSchema({ split: 'train', description: 'Training data.' }),
    steps: { type: 'integer', minimum: 0, default: 0, description: 'Total optimizer steps; 0 = epochs x floor(trainSize / batchSize).' },
    epochs: { type: 'number', exclusiveMinimum: 0, default: 1, description: 'Run length in epochs when steps is 0.' },
    batchSize: { type: 'integer', minimum: 1, default: d.batchSize ?? 64 },
    optimizer: withDefaults(optimizerSchema, d.optimizer as Record<string, unknown>),
    schedule: withDefaults(scheduleSchema, d.schedule as Record<string, unknown>),
    gradClip: { type: 'number', minimum: 0, default: d.gradClip ?? 0, description: 'Clip gradients to this global L2 norm (0 = off).' },
    ema: withDefaults(emaSchema, d.ema as Record<string, unknown>),
    augment: withDefaults(augmentSchema, d.augment as Record<string, unknown>),
    checkpointEvery: {
      type: 'integer',
      minimum: 1,
      default: d.checkpointEvery ?? 500,
      description: 'Write a checkpoint every N steps (and at the end).',
    },
    keepCheckpoints: { type: 'integer', minimum: 1, default: 2, description: 'How many newest checkpoints to keep.' },
    logEvery: { type: 'integer', minimum: 1, default: 10, description: 'Append the mean loss to loss.jsonl every N steps.' },
    evalEvery: { type: 'integer', minimum: -1, default: 0, description: 'Evaluate every N steps; 0 = every epoch; -1 = only at the end.' },
    seed: {
      type: 'integer',
      minimum: 0,
      default: 0,
      description: 'Seeds initialisation, data order, augmentation and all training noise.',
    },
  } as const;
}

/**
 * The options every trainer shares (`commonTrainProperties`, defaults filled): the loop options plus
 * the training data and the epoch count (`steps` 0 = derived from epochs).
 */
export type CommonTrainOptions = OptionsOf<{ readonly type: 'object'; readonly properties: ReturnType<typeof commonTrainProperties> }>;

/** Loop options for a training set of `trainSize` samples. */
export function loopOptions(o: CommonTrainOptions, trainSize: number): LoopOptions {
  const spe = Math.floor(trainSize / o.batchSize);
  const steps = o.steps > 0 ? o.steps : Math.max(1, Math.round(o.epochs * spe));
  return {
    steps,
    batchSize: o.batchSize,
    optimizer: o.optimizer,
    schedule: o.schedule,
    gradClip: o.gradClip,
    ema: o.ema,
    augment: o.augment,
    checkpointEvery: o.checkpointEvery,
    keepCheckpoints: o.keepCheckpoints,
    logEvery: o.logEvery,
    evalEvery: o.evalEvery,
    seed: o.seed,
  };
}

/** Create a dataset plugin through the registry (options validated by its schema). */
export async function openDatasetRef(
  ctx: PluginContext,
  ref: { id: string; options: Record<string, unknown> },
  field: string,
): Promise<Dataset> {
  if (!ctx.registry.has('dataset', ref.id)) {
    throw new ConfigValidationError(field, [
      `$.id: unknown dataset '${ref.id}'; registered: ${ctx.registry.ids('dataset').join(', ') || '(none)'}`,
    ]);
  }
  const def = ctx.registry.get('dataset', ref.id);
  const opts = ctx.registry.options('dataset', ref.id, ref.options);
  return (await def.create(opts, ctx)) as Dataset;
}

/** The training data of a DatasetRef: the dataset and `subset` evenly spaced indices (or all). */
export async function openTrainData(ctx: PluginContext, ref: DatasetRef, trainerId: string): Promise<TrainData> {
  const dataset = await openDatasetRef(ctx, ref, `options.dataset of trainer '${trainerId}'`);
  return { dataset, indices: spreadIndices(dataset, ref.subset) };
}

/**
 * `n` indices spread evenly over a dataset, `floor(i * size / n)` for i < n (all when n is 0 or at
 * least the size): the training `subset`. Evenly spaced rather than the first n: some splits are
 * stored sorted by class (Tiny-ImageNet train, image folders), and the first n of those would cover
 * only a few classes.
 */
export function spreadIndices(dataset: Dataset, n: number): number[] {
  const size = dataset.info.size;
  if (n <= 0 || n >= size) return Array.from({ length: size }, (_, i) => i);
  return Array.from({ length: n }, (_, i) => Math.floor((i * size) / n));
}

/** The `eval.seed` property of the trainers' held-out evaluation options. */
export const EVAL_SEED_SCHEMA = {
  type: 'integer',
  minimum: 0,
  default: 0,
  description:
    'Seed of the stratified draw of the held-out images (independent of the training seed, so runs with different seeds are evaluated on the same images).',
} as const;

/**
 * The held-out evaluation images of a trainer: a stratified draw of `min(n, size)` indices of the
 * evaluation split (`{kind: 'stratified', n, seed}` of @dbp-bench/datasets' `selectSubset`: as equal
 * per class as possible, every class present when n >= the number of classes, deterministic in
 * `seed`, no duplicates, in round-robin class order).
 */
export function heldOutIndices(dataset: Dataset, n: number, seed: number): Promise<number[]> {
  return selectSubsetAsync(dataset, { kind: 'stratified', n: Math.min(n, dataset.info.size), seed });
}
