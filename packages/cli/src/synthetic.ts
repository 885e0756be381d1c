/**
 * A tiny synthetic benchmark (no data or weights to fetch): an untrained small-cnn on the synthetic
 * dataset under a 2-step PGD. The one home of this config, used by CLI tests and by the run configs
 * `dbp-bench init-plugin` writes next to a new plugin. Needs an initialized tensor backend.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClassifier, saveModel } from '@dbp-bench/models';

/** Write an untrained small-cnn for the synthetic dataset (16x16x1, 4 classes) to `file`. */
export function writeSyntheticClassifier(file: string): void {
  const model = createClassifier(
    'small-cnn',
    { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [4, 8], hidden: 16, dropout: 0 },
    1,
  );
  try {
    saveModel(file, model);
  } finally {
    model.dispose();
  }
}

/** The l_inf budget of the synthetic benchmark's attack. */
export const SYNTHETIC_EPS = 0.1;

export interface SyntheticRunOptions {
  /** Run name. */
  name: string;
  /** Images: the first `n` of the synthetic dataset. */
  n: number;
  /** Classifier weights, relative to the config file. */
  weights: string;
  /** Extra plugin modules (relative to the config file). */
  plugins?: string[];
  defense?: { id: string; options?: Record<string, unknown> };
  /** EoT samples of the PGD attack (default 1). */
  eotSamples?: number;
  /** An attack to run instead of the 2-step PGD. */
  attack?: { id: string; name?: string; options?: Record<string, unknown> };
  /** Fresh purifications per adversarial example in the final evaluation (default 1). */
  purifications?: number;
  /** Evaluation batch size (default 2). */
  batchSize?: number;
  description?: string;
  /** Leaderboard display name (default 'small-cnn (untrained)'). */
  model?: string;
}

/** The run config of the synthetic benchmark (a plain JSON object, before validation). */
export function syntheticRunConfig(o: SyntheticRunOptions): Record<string, unknown> {
  const eot = o.eotSamples ?? 1;
  return {
    name: o.name,
    ...(o.description ? { description: o.description } : {}),
    ...(o.plugins ? { plugins: o.plugins } : {}),
    seed: 1,
    dataset: {
      id: 'synthetic',
      options: { size: 16, numClasses: 4, imageSize: 16, channels: 1, seed: 2 },
      subset: { kind: 'first', n: o.n },
    },
    classifier: { weights: o.weights },
    defense: o.defense ?? { id: 'identity' },
    attacks: [
      o.attack ?? {
        id: 'pgd',
        name: eot > 1 ? `pgd-2-eot-${eot}` : 'pgd-2',
        options: { steps: 2, eot: { samples: eot }, eps: SYNTHETIC_EPS, stepSize: 0.05 },
      },
    ],
    evaluation: { purifications: o.purifications ?? 1, batchSize: o.batchSize ?? 2 },
    leaderboard: { model: o.model ?? 'small-cnn (untrained)', family: 'none', reducedProtocol: true },
  };
}

/**
 * Write a tiny synthetic benchmark into `dir` for CLI tests: an untrained small-cnn (`cnn.safetensors`),
 * the identity defense and a 2-step PGD on the first `n` images of the synthetic dataset, as
 * `run.json` with run name `name`. `over` replaces the defense id, the batch size or the leaderboard
 * model name. Returns the config's path.
 */
export function writeSyntheticRunConfig(
  dir: string,
  n: number,
  name: string,
  over: { defense?: string; batchSize?: number; model?: string } = {},
): string {
  writeSyntheticClassifier(path.join(dir, 'cnn.safetensors'));
  const file = path.join(dir, 'run.json');
  const config = syntheticRunConfig({
    name,
    n,
    weights: 'cnn.safetensors',
    ...(over.defense ? { defense: { id: over.defense } } : {}),
    batchSize: over.batchSize,
    model: over.model,
  });
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}
