/**
 * The workloads whose kernels the conformance sweep records: every plugin of the built-in registry
 * (architectures, defenses, attacks, trainers) run at a tiny size through the public plugin factories
 * (`tiny`: one denoising, attack or training step; `full`: a few, with more option sets). A plugin id
 * with no entry here fails the sweep, so a new plugin cannot slip through unrecorded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  KeyedNoiseSource,
  eotRows,
  silentLogger,
  type Attack,
  type Classifier,
  type Defense,
  type PluginKind,
  type PluginRegistry,
  type Trainable,
  type Trainer,
} from '@dbp-bench/framework';
import { createClassifier, saveModel, UNet, UNET_PRESETS, type UNetConfig } from '@dbp-bench/models';
import { attackAndEvaluate } from '@dbp-bench/attacks';
import { builtinRegistry } from '@dbp-bench/cli';

/** Input images of the sweep: 2 x 16 x 16 x 3 in [0, 1]. */
const H = 16;
const N = 2;
const CLASSES = 10;

/** The tiny UNet of the sweep: the `tiny` preset (32 channels at 8x8, with attention) in heads of 8 channels: 4 heads. */
export const SWEEP_UNET: UNetConfig = { ...UNET_PRESETS.tiny, attentionHeadDim: 8 };

/** Tiny options of every architecture plugin (input 16x16x3, 10 classes). */
const ARCHITECTURES: Record<string, Record<string, unknown>> = {
  unet: { preset: 'tiny', config: { attentionHeadDim: 8 } },
  'small-cnn': { inputShape: [H, H, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], extras: { channels: [4, 4], hidden: 8 } },
  resnet20: { inputShape: [H, H, 3], mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3], extras: { width: 4, blocksPerStage: 1 } },
  resnet56: { inputShape: [H, H, 3], extras: { width: 4, blocksPerStage: 1 } },
  'preact-resnet18': { inputShape: [H, H, 3], extras: { width: 4, blocksPerStage: [1, 1, 1, 1] } },
  'wrn-28-10': { inputShape: [H, H, 3], extras: { depth: 10, widenFactor: 1, baseWidth: 4 } },
};

/**
 * Two sizes: `tiny` (the default suite: one denoising step, one attack step, one training step, so
 * every kernel runs at least once in a few seconds) and `full` (RUN_SLOW: a few steps of each, more
 * signatures). Each entry lists option sets; every set runs.
 */
export type WorkloadSize = 'tiny' | 'full';

/** Defense options (`weights` is filled in). */
const DEFENSES: Record<string, Record<WorkloadSize, Record<string, unknown>[]>> = {
  identity: { tiny: [{}], full: [{}] },
  'dp-ddpm': {
    tiny: [{ numInferenceSteps: 50, strength: 0.02 }],
    full: [
      { numInferenceSteps: 50, strength: 0.06 },
      { numInferenceSteps: 50, strength: 0.04, varianceType: 'fixed_small', precision: 'float32', checkpoint: false },
    ],
  },
  'dp-ddim': {
    tiny: [{ numInferenceSteps: 50, strength: 0.02, eta: 0.5 }],
    full: [
      { numInferenceSteps: 50, strength: 0.06 },
      { numInferenceSteps: 50, strength: 0.06, eta: 0.5, precision: 'float32', clipSample: false },
    ],
  },
  diffpure: {
    tiny: [
      { variant: 'addt', numInferenceSteps: 10, strength: 0.1, corrector: true },
      { variant: 'diffpure-original', strength: 0.001 },
    ],
    full: [
      { variant: 'addt', numInferenceSteps: 30, strength: 0.1, corrector: true },
      { variant: 'addt', numInferenceSteps: 30, strength: 0.1, clampOutput: false, checkpoint: false },
      { variant: 'diffpure-original', strength: 0.003 },
    ],
  },
};

/** The defense behind an attack: DP_DDPM (one step in `tiny`) where noise matters, else none. */
type AttackOptions = Record<string, unknown> & { $defense?: 'dp-ddpm' | 'identity' };

/** Attack options: each norm, loss, EoT, BPDA and noise policy at least once. */
const ATTACKS: Record<string, Record<WorkloadSize, AttackOptions[]>> = {
  pgd: {
    tiny: [
      { norm: 'linf', steps: 1, eot: { samples: 2 }, selectionDraws: 1, $defense: 'dp-ddpm' },
      { norm: 'l2', steps: 1, randomStart: true, loss: 'cw', eot: { samples: 1 }, selectionDraws: 1, $defense: 'identity' },
      { norm: 'linf', steps: 1, loss: 'dlr', gradient: 'bpda', eot: { samples: 1 }, selectionDraws: 1, $defense: 'dp-ddpm' },
    ],
    full: [
      { norm: 'linf', steps: 2, eot: { samples: 2 }, selectionDraws: 2 },
      { norm: 'l2', steps: 2, randomStart: true, restarts: 2, loss: 'cw', eot: { samples: 1 }, selectionDraws: 1 },
      { norm: 'linf', steps: 2, loss: 'dlr', gradient: 'bpda', eot: { samples: 2 }, selectionDraws: 1 },
    ],
  },
  apgd: {
    tiny: [
      { norm: 'linf', steps: 3, losses: ['ce', 'dlr'], eot: { samples: 1 }, selectionDraws: 1, $defense: 'identity' },
      { norm: 'l2', steps: 2, losses: ['cw'], eot: { samples: 2 }, selectionDraws: 1, $defense: 'identity' },
    ],
    full: [
      { norm: 'linf', steps: 4, losses: ['ce', 'dlr'], eot: { samples: 2 }, selectionDraws: 1 },
      { norm: 'l2', steps: 3, losses: ['cw'], restarts: 2, eot: { samples: 1 }, selectionDraws: 2 },
    ],
  },
  diffhammer: {
    tiny: [{ norm: 'linf', steps: 2, evaluations: 2, losses: ['ce'], $defense: 'dp-ddpm' }],
    full: [
      { norm: 'l2', steps: 3, evaluations: 2, losses: ['cw', 'dlr'] },
      { norm: 'linf', steps: 2, evaluations: 3, gradient: 'bpda' },
    ],
  },
  'autoattack-rand': {
    tiny: [{ norm: 'linf', steps: 2, eot: { samples: 1 }, selectionDraws: 1, $defense: 'identity' }],
    full: [{ norm: 'l2', steps: 3, eot: { samples: 2 }, selectionDraws: 2 }],
  },
  'dw-box': {
    tiny: [{ policy: 'both', steps: 1, randomStart: true, selectionDraws: 1, $defense: 'dp-ddpm' }],
    full: [
      { policy: 'fwd', steps: 2, selectionDraws: 1 },
      { policy: 'rev', steps: 2, norm: 'l2', selectionDraws: 1 },
      { policy: 'both', steps: 2, randomStart: true, eot: { samples: 2 }, selectionDraws: 2 },
    ],
  },
};

const DATA = { id: 'synthetic', options: { split: 'train', size: 8, imageSize: H, channels: 3, numClasses: CLASSES } };
const BN_NET = { arch: 'resnet20', config: { width: 4, blocksPerStage: 1 } };
const CNN = { arch: 'small-cnn', config: { channels: [4, 4], hidden: 8 } };
const UNET_MODEL = { preset: 'tiny', config: { attentionHeadDim: 8 } };
const TRAIN = { dataset: DATA, batchSize: 4, checkpointEvery: 1, logEvery: 1, evalEvery: -1, eval: { n: 4, batchSize: 4 } };

/** Trainer options (`$classifier` becomes the path of a tiny classifier); `steps` is 1 in `tiny`, 2 in `full`. */
const TRAINERS: Record<string, Record<string, unknown>[]> = {
  standard: [{ ...TRAIN, model: BN_NET, optimizer: { type: 'adam', lr: 1e-3 }, augment: { crop: 2, flip: true } }],
  'pgd-at': [
    {
      ...TRAIN,
      model: BN_NET,
      optimizer: { type: 'sgd', lr: 0.05, nesterov: true },
      schedule: { type: 'cosine', warmupSteps: 1 },
      attack: { steps: 2 },
    },
    { ...TRAIN, model: CNN, attack: { norm: 'l2', eps: 0.5, stepSize: 0.2, steps: 1 }, eval: { enabled: false } },
  ],
  trades: [{ ...TRAIN, model: BN_NET, optimizer: { type: 'adamw', lr: 1e-3 }, attack: { steps: 1 }, gradClip: 1 }],
  ddpm: [{ ...TRAIN, model: { ...UNET_MODEL, dropout: 0.1 }, ema: { maxDecay: 0.99 } }],
  addt: [
    { ...TRAIN, model: UNET_MODEL, classifier: '$classifier', cgpo: { iterations: 2 }, eval: { enabled: false } },
    { ...TRAIN, model: UNET_MODEL, classifier: '$classifier', ablation: 'no-rbgm', cgpo: { iterations: 1 }, eval: { enabled: false } },
    { ...TRAIN, model: UNET_MODEL, ablation: 'no-guidance', cgpo: { iterations: 1 }, eval: { enabled: false } },
  ],
};

const TABLES: Partial<Record<PluginKind, Record<string, unknown>>> = {
  architecture: ARCHITECTURES,
  defense: DEFENSES,
  attack: ATTACKS,
  trainer: TRAINERS,
};

/** Plugins of the registry that have no workload here (the sweep fails on any). */
export function pluginsWithoutWorkload(registry: PluginRegistry = builtinRegistry()): string[] {
  const missing: string[] = [];
  for (const [kind, table] of Object.entries(TABLES) as [PluginKind, Record<string, unknown>][]) {
    for (const id of registry.ids(kind)) if (!(id in table)) missing.push(`${kind} '${id}'`);
  }
  return missing;
}

function images(seed: number): tf.Tensor4D {
  return tf.randomUniform([N, H, H, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}
function isTrainable(m: unknown): m is Trainable {
  return typeof (m as Trainable).trainableVariables === 'function' && typeof (m as Trainable).setTraining === 'function';
}

export interface Workload {
  readonly name: string;
  run(): Promise<void>;
}

/**
 * The workloads, built from the registry: `setWorkload(name)` is called before each runs. Temporary
 * files (weights, training output) live in one directory removed at the end.
 */
export async function runWorkloads(
  size: WorkloadSize,
  setWorkload: (name: string) => void,
  registry: PluginRegistry = builtinRegistry(),
): Promise<string[]> {
  const missing = pluginsWithoutWorkload(registry);
  if (missing.length)
    throw new Error(`no conformance workload for ${missing.join(', ')}: add tiny options to test/conformance/workloads.ts`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-conformance-'));
  const names: string[] = [];
  const scope = registry.createScope({ baseDir: dir, logger: silentLogger });
  const step = async (name: string, f: () => Promise<void> | void): Promise<void> => {
    setWorkload(name);
    names.push(name);
    await f();
  };
  try {
    // Shared tiny networks: the UNet every defense loads, the classifier attacks and ADDT use.
    const unet = new UNet(SWEEP_UNET, 5);
    saveModel(path.join(dir, 'unet.safetensors'), unet);
    unet.dispose();
    const clf = createClassifier(
      'small-cnn',
      { numClasses: CLASSES, inputShape: [H, H, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channels: [4, 4], hidden: 8 },
      4,
    );
    saveModel(path.join(dir, 'classifier.safetensors'), clf);

    // Architectures: forward and input gradient in eval mode; forward and weight gradients in training mode.
    for (const id of registry.ids('architecture')) {
      await step(`architecture ${id}`, async () => {
        const net = await scope.create<unknown>('architecture', id, ARCHITECTURES[id]);
        const x = images(1);
        tf.tidy(() => {
          if (id === 'unet') {
            const u = net as UNet;
            const t = tf.tensor1d([3, 517], 'int32');
            const xx = tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D;
            tf.grad((a: tf.Tensor) => tf.sum(tf.square(u.predictEps(a as tf.Tensor4D, t))))(xx);
          } else {
            const c = net as Classifier;
            tf.grad((a: tf.Tensor) => tf.sum(c.logits(a as tf.Tensor4D)))(x);
          }
          if (isTrainable(net)) {
            net.setTraining(true);
            const vars = net.trainableVariables();
            tf.variableGrads(() => {
              const y =
                id === 'unet'
                  ? (net as UNet).predictEps(tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D, tf.tensor1d([10, 900], 'int32'))
                  : (net as unknown as Classifier).logits(x);
              return tf.mean(tf.square(y)) as tf.Scalar;
            }, vars);
            net.setTraining(false);
          }
        });
        x.dispose();
        (net as { dispose(): void }).dispose();
      });
    }

    // Defenses: purification and its exact gradient.
    for (const id of registry.ids('defense')) {
      for (const [k, o] of DEFENSES[id][size].entries()) {
        await step(`defense ${id} #${k}`, async () => {
          const d = await scope.create<Defense>('defense', id, id === 'identity' ? o : { ...o, weights: 'unet.safetensors' });
          const x = images(2);
          const noise = new KeyedNoiseSource(3, eotRows([0, 1]));
          tf.tidy(() => {
            d.purify(x, noise);
            const r = tf.randomUniform([N, H, H, 3], -1, 1, 'float32', 9);
            tf.grad((a: tf.Tensor) => tf.sum(tf.mul(d.purify(a as tf.Tensor4D, noise), r)))(x);
          });
          x.dispose();
          d.dispose?.();
        });
      }
    }

    // Attacks, through attack-then-evaluate, on the tiny classifier behind DP_DDPM (or no defense).
    const behind: Record<string, Defense> = {
      'dp-ddpm': await scope.create<Defense>('defense', 'dp-ddpm', { ...DEFENSES['dp-ddpm'][size][0], weights: 'unet.safetensors' }),
      identity: await scope.create<Defense>('defense', 'identity', {}),
    };
    for (const id of registry.ids('attack')) {
      for (const [k, { $defense, ...o }] of ATTACKS[id][size].entries()) {
        await step(`attack ${id} #${k}`, async () => {
          const attack = await scope.create<Attack>('attack', id, o);
          const x = images(3);
          // Labels the classifier gets right, so that the attack has something to attack.
          const y = tf.tidy(() => tf.argMax(clf.logits(x), 1)) as tf.Tensor1D;
          const res = await attackAndEvaluate(attack, clf, behind[$defense ?? 'dp-ddpm'], x, y, [0, 1], { seed: 1 });
          tf.dispose([res.xAdv, x, y]);
        });
      }
    }
    for (const d of Object.values(behind)) d.dispose?.();
    clf.dispose();

    // Trainers: a few steps each, with checkpoints and evaluation.
    for (const id of registry.ids('trainer')) {
      for (const [k, o] of TRAINERS[id].entries()) {
        await step(`trainer ${id} #${k}`, async () => {
          const opts = {
            ...JSON.parse(JSON.stringify(o).replace('"$classifier"', JSON.stringify('classifier.safetensors'))),
            steps: size === 'tiny' ? 1 : 2,
          };
          const trainer = await scope.create<Trainer>('trainer', id, opts);
          await trainer.train({ outDir: path.join(dir, `train-${id}-${k}`), logger: silentLogger });
        });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return names;
}
