/**
 * Classifier trainers: `standard` (cross-entropy), `pgd-at` (Madry et al. 2018: minimise the
 * cross-entropy of PGD-k adversarial examples) and `trades` (Zhang et al. 2019: CE(f(x), y) +
 * beta * KL(f(x) || f(x_adv))). Each is a trainer plugin running the shared training loop, with
 * held-out evaluation (clean accuracy, and PGD accuracy for the adversarial trainers).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigValidationError,
  NORMS,
  budgetRules,
  definePlugin,
  klSum,
  meanCrossEntropy,
  FILE_OPTION_KEYWORD,
  SeededRng,
  type Dataset,
  type PluginContext,
  type OptionsOf,
  type TrainContext,
  type TrainResult,
  type Trainer,
} from '@dbp-bench/framework';
import {
  CLASSIFIER_ARCHS,
  applyStateDict,
  createClassifier,
  defaultClassifierConfig,
  loadClassifier,
  readSafetensors,
  saveModel,
  type ClassifierConfig,
  type ClassifierModel,
} from '@dbp-bench/models';
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
} from './loop';
import { innerAttackSchema, pgdCrossEntropy, tradesAttack, type InnerAttackOptions } from './inner-max';

export type AtTrainerId = 'standard' | 'pgd-at' | 'trades';

const modelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['arch'],
  description: 'The classifier: an architecture (with config overrides) or weights to fine-tune.',
  properties: {
    arch: { enum: [...CLASSIFIER_ARCHS] },
    config: {
      type: 'object',
      default: {},
      description: 'Overrides of the arch defaults (mean, std, width, ...); numClasses and inputShape default to the dataset.',
    },
    init: {
      type: ['string', 'null'],
      [FILE_OPTION_KEYWORD]: true,
      default: null,
      description: 'Initial weights (safetensors written by dbp-bench) to fine-tune from; relative to the config file.',
    },
  },
} as const;

function evalSchema(pgdDefault: boolean) {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    description:
      'Held-out evaluation on n images of the dataset split `split`, drawn stratified by class (equal per class as far as possible) with `seed`.',
    properties: {
      enabled: { type: 'boolean', default: true },
      split: { type: 'string', default: 'test' },
      n: { type: 'integer', minimum: 1, default: 512, description: 'Number of held-out images (all of the split when it has fewer).' },
      seed: EVAL_SEED_SCHEMA,
      batchSize: { type: 'integer', minimum: 1, default: 128 },
      pgd: {
        type: 'boolean',
        default: pgdDefault,
        description: 'Also measure accuracy under PGD (the training attack with the overrides in `attack`).',
      },
      attack: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          norm: { enum: [...NORMS] },
          eps: { type: 'number', minimum: 0 },
          stepSize: { type: 'number', exclusiveMinimum: 0 },
          steps: { type: 'integer', minimum: 0 },
          randomStart: { type: 'boolean' },
        },
        allOf: budgetRules(null),
      },
    },
  } as const;
}

const SGD_DEFAULTS = {
  optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { type: 'step', milestones: [0.5, 0.75] },
  batchSize: 128,
} as const;

/** What distinguishes the classifier trainers (each in its file `src/trainer/<id>.ts`). */
export interface ClassifierTrainerSpec {
  readonly id: AtTrainerId;
  readonly description: string;
  /** Defaults of the `attack` option (the inner maximisation, or the evaluation PGD of `standard`). */
  readonly attack: InnerAttackOptions;
  readonly attackDescription: string;
  /** Default of `eval.pgd`. */
  readonly evalPgd: boolean;
}

/** The JSON Schema of a classifier trainer's options. */
export function classifierTrainerSchema(spec: ClassifierTrainerSpec) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['dataset', 'model'],
    properties: {
      ...commonTrainProperties(SGD_DEFAULTS as never),
      model: modelSchema,
      eval: evalSchema(spec.evalPgd),
      attack: innerAttackSchema(spec.attack, spec.attackDescription),
      beta: { type: 'number', minimum: 0, default: 6, description: 'TRADES: weight of the KL term (unused by the other trainers).' },
    },
  } as const;
}

/** The options of a classifier trainer (standard, pgd-at, trades), validated, defaults filled. */
export type ClassifierTrainOptions = OptionsOf<ReturnType<typeof classifierTrainerSchema>>;
/** Its `model` option: an arch with config overrides (numClasses and inputShape default to the dataset's), or `init` weights to fine-tune. */
export type ClassifierModelOptions = ClassifierTrainOptions['model'];
/** Its `eval` option: the held-out evaluation (`attack`: overrides of the training attack for the evaluation PGD). */
export type ClassifierEvalOptions = ClassifierTrainOptions['eval'];

/** Build (or load) the classifier for a dataset. */
export async function buildClassifier(
  o: ClassifierModelOptions,
  info: Dataset['info'],
  seed: number,
  ctx: PluginContext,
): Promise<ClassifierModel> {
  if (o.init) {
    const model = await loadClassifier(ctx.resolvePath(o.init));
    if (model.arch !== o.arch) ctx.logger.warn(`model.init holds a ${model.arch}, model.arch says ${o.arch}: using ${model.arch}`);
    return model;
  }
  const c = info.shape[2];
  const base = defaultClassifierConfig(o.arch, info.numClasses);
  const config: ClassifierConfig = {
    ...base,
    numClasses: info.numClasses,
    inputShape: [info.shape[0], info.shape[1], info.shape[2]],
    mean: new Array<number>(c).fill(0),
    std: new Array<number>(c).fill(1),
    ...(o.config as Partial<ClassifierConfig>),
  };
  return createClassifier(o.arch, config, seed);
}

/** Accuracy (clean, and under PGD when `attack` is given) of `model` in eval mode on dataset rows. */
export async function evaluateClassifier(
  model: ClassifierModel,
  dataset: Dataset,
  indices: readonly number[],
  batchSize: number,
  attack: InnerAttackOptions | undefined,
  seed: number,
): Promise<Record<string, number>> {
  model.setTraining(false);
  let clean = 0;
  let robust = 0;
  const rng = new SeededRng(seed, 'eval-attack');
  for (let i = 0; i < indices.length; i += batchSize) {
    const batch = await dataset.get(indices.slice(i, i + batchSize));
    const y = tf.tensor1d(batch.labels, 'int32');
    try {
      clean += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.logits(batch.images), 1), y), 'int32')).dataSync()[0]);
      if (attack) {
        const xAdv = pgdCrossEntropy(model, batch.images, y, attack, tfSeed(rng));
        robust += tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(model.logits(xAdv), 1), y), 'int32')).dataSync()[0]);
        xAdv.dispose();
      }
    } finally {
      batch.images.dispose();
      y.dispose();
    }
  }
  const out: Record<string, number> = { cleanAcc: clean / indices.length };
  if (attack) out.pgdAcc = robust / indices.length;
  return out;
}

/** The loop task of a classifier trainer. */
export class ClassifierTask implements TrainingTask {
  readonly params: NamedParam[];
  readonly evaluate?: () => Promise<Record<string, number>>;
  constructor(
    readonly trainerId: AtTrainerId,
    readonly model: ClassifierModel,
    private readonly options: Pick<ClassifierTrainOptions, 'attack' | 'beta'>,
    evaluation?: () => Promise<Record<string, number>>,
  ) {
    if (evaluation) this.evaluate = evaluation;
    const names = new Map<tf.Variable, string>();
    for (const [n, v] of model.namedWeights()) names.set(v, n);
    this.params = model.trainableVariables().map((v, i) => ({ name: names.get(v) ?? `param.${i}`, variable: v }));
  }
  setTraining(training: boolean): void {
    this.model.setTraining(training);
  }
  computeGradients(batch: TrainBatch, rng: SeededRng): StepOutput {
    const m = this.model;
    const y = tf.tensor1d(batch.labels, 'int32');
    let x = batch.images;
    let xAdv: tf.Tensor4D | undefined;
    try {
      if (this.trainerId !== 'standard') {
        // Adversarial examples against the current weights, batch norm in eval mode (as TRADES' reference code).
        m.setTraining(false);
        xAdv =
          this.trainerId === 'pgd-at'
            ? pgdCrossEntropy(m, x, y, this.options.attack, tfSeed(rng))
            : tradesAttack(m, x, this.options.attack, tfSeed(rng));
        m.setTraining(true);
        if (this.trainerId === 'pgd-at') x = xAdv;
      }
      let correct: tf.Tensor | undefined;
      const vars = this.params.map((p) => p.variable);
      const { value, grads } = tf.variableGrads(() => {
        const logits = m.logits(x);
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32')));
        let loss = meanCrossEntropy(logits, y);
        if (this.trainerId === 'trades') {
          const pNat = tf.softmax(logits) as tf.Tensor2D;
          loss = tf.add(loss, tf.mul(tf.div(klSum(pNat, m.logits(xAdv!)), x.shape[0]), this.options.beta)) as tf.Scalar;
        }
        return loss;
      }, vars);
      const acc = correct!.dataSync()[0] / x.shape[0];
      correct!.dispose();
      return {
        loss: value,
        grads: vars.map((v) => grads[v.name]),
        metrics: { [this.trainerId === 'pgd-at' ? 'trainAdvAcc' : 'trainAcc']: acc },
      };
    } finally {
      y.dispose();
      xAdv?.dispose();
    }
  }
  saveWeights(file: string, metadata: Record<string, unknown>): void {
    saveModel(file, this.model, metadata);
  }
  loadWeights(file: string): void {
    applyStateDict(this.model, readSafetensors(file).tensors, { source: file });
  }
}

/** A classifier trainer plugin's Trainer. */
export class ClassifierTrainer implements Trainer {
  constructor(
    readonly id: AtTrainerId,
    private readonly options: ClassifierTrainOptions,
    private readonly ctx: PluginContext,
  ) {}
  async train(tctx: TrainContext & Partial<LoopContext>): Promise<TrainResult> {
    const o = this.options;
    const data = await openTrainData(this.ctx, o.dataset, this.id);
    const model = await buildClassifier(o.model, data.dataset.info, o.seed, this.ctx);
    try {
      let evaluation: (() => Promise<Record<string, number>>) | undefined;
      if (o.eval.enabled) {
        const evalSet = await openDatasetRef(
          this.ctx,
          { id: o.dataset.id, options: { ...o.dataset.options, split: o.eval.split } },
          `options.eval of trainer '${this.id}'`,
        );
        const idx = await heldOutIndices(evalSet, o.eval.n, o.eval.seed);
        const attack = o.eval.pgd ? { ...o.attack, ...o.eval.attack } : undefined;
        evaluation = () => evaluateClassifier(model, evalSet, idx, o.eval.batchSize, attack, o.seed);
      }
      const task = new ClassifierTask(this.id, model, o, evaluation);
      return await runTraining(task, data, loopOptions(o, data.indices.length), { ...tctx, recipe: o });
    } finally {
      model.dispose();
    }
  }
}

/** The plugin definition of one classifier trainer (its file `src/trainer/<id>.ts` gives the spec). */
export function classifierTrainer(spec: ClassifierTrainerSpec) {
  const id = spec.id;
  return definePlugin({
    kind: 'trainer',
    id,
    description: spec.description,
    schema: classifierTrainerSchema(spec),
    create(options, ctx): Trainer {
      if (id !== 'standard' && options.attack.steps < 1)
        throw new ConfigValidationError(`options of trainer '${id}'`, ['$.attack.steps: adversarial training needs at least 1 step']);
      return new ClassifierTrainer(id, options, ctx);
    },
  });
}
