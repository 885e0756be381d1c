/**
 * Trainer plugins `ddpm` (denoising training from scratch or fine-tuning) and `addt` (Adversarial
 * Denoising Diffusion Training: CGPO + RBGM, ALGORITHMS.md §8; with the paper's two ablations).
 * Both run the shared training loop of @dbp-bench/trainers-at with the ADDT recipe as defaults:
 * AdamW lr 2e-4, betas (0.95, 0.999), weight decay 1e-6, constant lr, gradient clipping 1.0,
 * dropout on, EMA with warm-up (max decay 0.9999) whose weights are the saved model, random flips.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  FILE_OPTION_KEYWORD,
  SeededRng,
  type Classifier,
  type Dataset,
  type PluginContext,
  type OptionsOf,
  type TrainContext,
  type TrainResult,
  type Trainer,
} from '@dbp-bench/framework';
import {
  UNET_PRESETS,
  UNet,
  applyStateDict,
  loadClassifier,
  loadUNet,
  modelStateDict,
  readSafetensors,
  saveModel,
  type ClassifierModel,
  type UNetConfig,
} from '@dbp-bench/models';
import { alphasCumprod, linearBetas } from '@dbp-bench/defenses-dbp';
import {
  EVAL_SEED_SCHEMA,
  commonTrainProperties,
  heldOutIndices,
  loopOptions,
  openDatasetRef,
  openTrainData,
  runTraining,
  tfSeed,
  type LoopContext,
  type NamedParam,
  type StepOutput,
  type TrainBatch,
  type TrainingTask,
} from '@dbp-bench/trainers-at';
import {
  GAMMA_DEFAULTS,
  X0_PGD_DEFAULTS,
  cgpo,
  coefsFor,
  ddpmLoss,
  denoisingLoss,
  disposeCoefs,
  mixedNoise,
  x0Pgd,
  type Ablation,
  type Coefs,
  type GammaOptions,
  type X0PgdOptions,
} from './cgpo';
import type ddpm from './trainer/ddpm';
import type addt from './trainer/addt';

export type DiffusionTrainerId = 'ddpm' | 'addt';

/** The options of the `ddpm` trainer, validated, defaults filled (its schema: src/trainer/ddpm.ts). */
export type DiffusionTrainOptions = OptionsOf<typeof ddpm.schema>;
/** The options of the `addt` trainer: ddpm's plus the CGPO / RBGM ones (src/trainer/addt.ts). */
export type AddtTrainOptions = OptionsOf<typeof addt.schema>;
/** The `model` option: a UNet preset (with overrides) from scratch, or `init` weights to fine-tune; `dropout` null = the preset's / loaded model's. */
export type UNetModelOptions = DiffusionTrainOptions['model'];
/** The `diffusion` option: the DDPM linear noise schedule. */
export type DiffusionScheduleOptions = DiffusionTrainOptions['diffusion'];
/** The `eval` option: the held-out denoising loss. */
export type DiffusionEvalOptions = DiffusionTrainOptions['eval'];

/** The ADDT fine-tuning recipe (§8.4) as defaults of both trainers. */
const ADDT_DEFAULTS = {
  batchSize: 256,
  optimizer: { type: 'adamw', lr: 2e-4, betas: [0.95, 0.999], weightDecay: 1e-6, eps: 1e-8 },
  schedule: { type: 'constant' },
  gradClip: 1,
  ema: { enabled: true, maxDecay: 0.9999, warmup: true, power: 0.75, invGamma: 1 },
  augment: { flip: true, crop: 0 },
} as const;

export const unetModelSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'The diffusion UNet: a preset (with overrides) from scratch, or weights to fine-tune.',
  properties: {
    preset: { enum: Object.keys(UNET_PRESETS), default: 'mnist' },
    config: { type: 'object', default: {}, description: 'Overrides of the preset (UNetConfig fields).' },
    init: {
      type: ['string', 'null'],
      [FILE_OPTION_KEYWORD]: true,
      default: null,
      description: 'UNet weights (safetensors written by dbp-bench) to fine-tune from; relative to the config file.',
    },
    dropout: {
      type: ['number', 'null'],
      minimum: 0,
      exclusiveMaximum: 1,
      default: null,
      description: 'Dropout during training (null: from the preset / loaded model).',
    },
  },
} as const;

const diffusionSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'DDPM linear noise schedule.',
  properties: {
    timesteps: { type: 'integer', minimum: 2, default: 1000 },
    betaStart: { type: 'number', exclusiveMinimum: 0, default: 1e-4 },
    betaEnd: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.02 },
    trainTimesteps: {
      type: 'integer',
      minimum: 1,
      description:
        'Train (and evaluate) only on timesteps t < trainTimesteps, e.g. 101 for the noise levels a purification with t* = 0.1 uses (t = 100 down to 0 of 1000); absent: all timesteps. The schedule is unchanged.',
    },
  },
} as const;

const diffusionEvalSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description:
    'Held-out denoising loss on n images of `split` drawn stratified by class (equal per class as far as possible) with `seed`, at fixed timesteps and noise (comparable across evaluations).',
  properties: {
    enabled: { type: 'boolean', default: true },
    split: { type: 'string', default: 'test' },
    n: { type: 'integer', minimum: 1, default: 256, description: 'Number of held-out images (all of the split when it has fewer).' },
    seed: EVAL_SEED_SCHEMA,
    batchSize: { type: 'integer', minimum: 1, default: 64 },
  },
} as const;

/**
 * The options both diffusion trainers take (JSON Schema properties): the shared training options
 * with the ADDT recipe's defaults, the UNet, the noise schedule and the held-out evaluation.
 */
export function diffusionTrainProperties() {
  return {
    ...commonTrainProperties(ADDT_DEFAULTS as never),
    model: unetModelSchema,
    diffusion: diffusionSchema,
    eval: diffusionEvalSchema,
  } as const;
}

/** Build (or load) the UNet for a dataset of shape [h, w, c]. */
export async function buildUNet(o: UNetModelOptions, info: Dataset['info'], seed: number, ctx: PluginContext): Promise<UNet> {
  let model: UNet;
  if (o.init) {
    const file = ctx.resolvePath(o.init);
    const loaded = await loadUNet(file);
    if (o.dropout === null || o.dropout === loaded.config.dropout) {
      model = loaded;
    } else {
      model = new UNet({ ...loaded.config, dropout: o.dropout }, seed);
      applyStateDict(model, modelStateDict(loaded), { source: file });
      loaded.dispose();
    }
  } else {
    const config: UNetConfig = {
      ...UNET_PRESETS[o.preset as keyof typeof UNET_PRESETS],
      ...(o.config as Partial<UNetConfig>),
    } as UNetConfig;
    if (o.dropout !== null) config.dropout = o.dropout;
    model = new UNet(config, seed);
  }
  const [h, w, c] = info.shape;
  if (model.config.sampleSize !== h || h !== w || model.config.inChannels !== c || model.config.outChannels !== c) {
    const cfg = model.config;
    model.dispose();
    throw new ConfigValidationError('options.model', [
      `the UNet takes ${cfg.sampleSize}x${cfg.sampleSize}x${cfg.inChannels} (out ${cfg.outChannels}) but dataset '${info.id}' has ${h}x${w}x${c} images; choose a matching preset or set model.config.sampleSize/inChannels/outChannels`,
    ]);
  }
  return model;
}

function namedParams(model: { namedWeights(): Map<string, tf.Variable>; trainableVariables(): tf.Variable[] }): NamedParam[] {
  const names = new Map<tf.Variable, string>();
  for (const [n, v] of model.namedWeights()) names.set(v, n);
  return model.trainableVariables().map((v, i) => ({ name: names.get(v) ?? `param.${i}`, variable: v }));
}

/**
 * Held-out denoising MSE with fixed per-image timesteps and noise (seeded by `seed`), so successive
 * evaluations measure the same thing.
 */
export async function evaluateDenoising(
  model: UNet,
  dataset: Dataset,
  indices: readonly number[],
  batchSize: number,
  abar: Float64Array,
  seed: number,
  /** Timesteps drawn from [0, tMax) (default: all of the schedule). */
  tMax: number = abar.length,
): Promise<Record<string, number>> {
  model.setTraining(false);
  const rng = new SeededRng(seed, 'eval-denoise');
  let sum = 0;
  for (let i = 0; i < indices.length; i += batchSize) {
    const batch = await dataset.get(indices.slice(i, i + batchSize));
    const b = batch.labels.length;
    const t = Array.from({ length: b }, () => rng.int(tMax));
    const c = coefsFor(t, abar);
    const s = tfSeed(rng);
    try {
      sum += tf.tidy(() => {
        const x0 = tf.sub(tf.mul(batch.images, 2), 1) as tf.Tensor4D;
        const eps = tf.randomNormal(x0.shape, 0, 1, 'float32', s) as tf.Tensor4D;
        return ddpmLoss(model, x0, eps, c).dataSync()[0] * b;
      });
    } finally {
      batch.images.dispose();
      disposeCoefs(c);
    }
  }
  return { evalMse: sum / indices.length };
}

/** How many timesteps training draws from: `diffusion.trainTimesteps` (checked against the schedule), else all. */
export function trainTimestepCount(d: { timesteps: number; trainTimesteps?: number }): number {
  if (d.trainTimesteps === undefined) return d.timesteps;
  if (d.trainTimesteps > d.timesteps)
    throw new ConfigValidationError('diffusion options', [
      `$.diffusion.trainTimesteps: ${d.trainTimesteps} is more than the schedule's ${d.timesteps} timesteps`,
    ]);
  return d.trainTimesteps;
}

/** The loop task of `ddpm` and `addt`. */
export class DiffusionTask implements TrainingTask {
  readonly params: NamedParam[];
  readonly evaluate?: () => Promise<Record<string, number>>;
  /** Gradient evaluations of CGPO in the last step (for tests and logs). */
  lastCgpoEvaluations = 0;
  constructor(
    readonly trainerId: DiffusionTrainerId,
    readonly model: UNet,
    private readonly abar: Float64Array,
    private readonly addt?: { classifier?: Classifier; iterations: number; gamma: GammaOptions; ablation: Ablation; noRbgm: X0PgdOptions },
    evaluation?: () => Promise<Record<string, number>>,
    /** Training timesteps are drawn from [0, tMax) (`diffusion.trainTimesteps`; default all). */
    private readonly tMax: number = abar.length,
  ) {
    this.params = namedParams(model);
    if (evaluation) this.evaluate = evaluation;
  }
  setTraining(training: boolean): void {
    this.model.setTraining(training);
  }
  computeGradients(batch: TrainBatch, rng: SeededRng): StepOutput {
    const b = batch.labels.length;
    const t = Array.from({ length: b }, () => rng.int(this.tMax));
    const a = this.addt;
    const c: Coefs = coefsFor(t, this.abar, a?.gamma ?? GAMMA_DEFAULTS, a?.noRbgm.rMax ?? X0_PGD_DEFAULTS.rMax);
    const x0 = tf.tidy(() => tf.sub(tf.mul(batch.images, 2), 1) as tf.Tensor4D);
    const labels = tf.tensor1d(batch.labels, 'int32');
    const normal = (): tf.Tensor4D => tf.randomNormal(x0.shape, 0, 1, 'float32', tfSeed(rng)) as tf.Tensor4D;
    const disposables: tf.Tensor[] = [x0, labels];
    try {
      const metrics: Record<string, number> = {};
      // The target noise of the training step, built from a fresh eps and the optimised perturbation.
      let target: tf.Tensor4D;
      if (!a) {
        target = normal();
      } else if (a.ablation === 'no-rbgm') {
        const r = x0Pgd({
          model: this.model,
          classifier: a.classifier,
          x0,
          labels,
          coefs: c,
          iterations: a.iterations,
          noise: normal,
          options: a.noRbgm,
        });
        this.lastCgpoEvaluations = r.gradientEvaluations;
        metrics.cgpoCe = r.lastObjective;
        const eps = normal();
        target = tf.tidy(() => tf.add(eps, tf.mul(c.r, r.delta)) as tf.Tensor4D);
        disposables.push(eps, r.delta);
      } else {
        const r = cgpo({
          model: this.model,
          classifier: a.classifier,
          x0,
          labels,
          coefs: c,
          iterations: a.iterations,
          objective: a.ablation === 'no-guidance' ? 'denoise' : 'ce',
          noise: normal,
        });
        this.lastCgpoEvaluations = r.gradientEvaluations;
        metrics[a.ablation === 'no-guidance' ? 'cgpoMse' : 'cgpoCe'] = r.lastObjective;
        const eps = normal();
        target = tf.tidy(() => mixedNoise(eps, r.epsDelta, c));
        disposables.push(eps, r.epsDelta, r.G);
      }
      disposables.push(target);
      const vars = this.params.map((p) => p.variable);
      const { value, grads } = tf.variableGrads(() => denoisingLoss(this.model, x0, target, c), vars);
      return { loss: value, grads: vars.map((v) => grads[v.name]), metrics };
    } finally {
      disposables.forEach((d) => d.dispose());
      disposeCoefs(c);
    }
  }
  /** The weights, with `trainTimesteps` in their metadata when training drew only t < it (the defenses refuse a chain above it). */
  saveWeights(file: string, metadata: Record<string, unknown>): void {
    saveModel(file, this.model, this.tMax < this.abar.length ? { ...metadata, trainTimesteps: this.tMax } : metadata);
  }
  loadWeights(file: string): void {
    applyStateDict(this.model, readSafetensors(file).tensors, { source: file });
  }
}

/** The Trainer of `ddpm` / `addt`. */
export class DiffusionTrainer implements Trainer {
  constructor(
    readonly id: DiffusionTrainerId,
    private readonly options: DiffusionTrainOptions | AddtTrainOptions,
    private readonly ctx: PluginContext,
  ) {}
  async train(tctx: TrainContext & Partial<LoopContext>): Promise<TrainResult> {
    const o = this.options;
    const data = await openTrainData(this.ctx, o.dataset, this.id);
    const abar = alphasCumprod(linearBetas(o.diffusion.timesteps, o.diffusion.betaStart, o.diffusion.betaEnd));
    const tMax = trainTimestepCount(o.diffusion);
    const model = await buildUNet(o.model, data.dataset.info, o.seed, this.ctx);
    let classifier: ClassifierModel | undefined;
    try {
      let addt: ConstructorParameters<typeof DiffusionTask>[3];
      if (this.id === 'addt') {
        const ao = o as AddtTrainOptions;
        if (ao.ablation !== 'no-guidance') {
          if (!ao.classifier)
            throw new ConfigValidationError(`options of trainer 'addt'`, [
              `$.classifier: required for ablation '${ao.ablation}' (CGPO needs the frozen classifier)`,
            ]);
          classifier = await loadClassifier(this.ctx.resolvePath(ao.classifier));
          classifier.setTraining(false);
        }
        addt = { classifier, iterations: ao.cgpo.iterations, gamma: ao.gamma, ablation: ao.ablation, noRbgm: ao.noRbgm };
      }
      let evaluation: (() => Promise<Record<string, number>>) | undefined;
      if (o.eval.enabled) {
        const evalSet = await openDatasetRef(
          this.ctx,
          { id: o.dataset.id, options: { ...o.dataset.options, split: o.eval.split } },
          `options.eval of trainer '${this.id}'`,
        );
        const idx = await heldOutIndices(evalSet, o.eval.n, o.eval.seed);
        evaluation = () => evaluateDenoising(model, evalSet, idx, o.eval.batchSize, abar, o.seed, tMax);
      }
      const task = new DiffusionTask(this.id, model, abar, addt, evaluation, tMax);
      return await runTraining(task, data, loopOptions(o, data.indices.length), { ...tctx, recipe: o });
    } finally {
      model.dispose();
      classifier?.dispose();
    }
  }
}
