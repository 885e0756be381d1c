/**
 * Train config files (`dbp-bench train <config.json>`):
 *
 *   { "trainer": "<trainer id>", "description": "...", "plugins": [], "out": "runs/train/x",
 *     "export": "../../weights/x.safetensors",
 *     "options": { ...the trainer's options (its JSON Schema, defaults filled)... } }
 *
 * Input paths inside `options` (init weights, a classifier, a dataset dir) and `export` are relative
 * to the config file; `out` is relative to the working directory (default `runs/train/<config name>`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DbpError,
  readJsonFile,
  sha256,
  validateSchema,
  writeFileAtomic,
  type DeepReadonly,
  type Logger,
  type PluginRegistry,
  type TrainResult,
  type Trainer,
} from '@dbp-bench/framework';
import { findLatestCheckpoint, RESULT_FILE } from './loop';

export interface TrainConfig {
  trainer: string;
  description?: string;
  plugins: string[];
  out?: string;
  /** Copy the final weights here when training completes (relative to the config file). */
  export?: string;
  options: Record<string, unknown>;
}

/** The schema of a train config file for the trainers registered now. */
export function trainConfigSchema(registry: PluginRegistry): Record<string, unknown> {
  const ids = registry.ids('trainer');
  return {
    title: 'dbp-bench train config',
    type: 'object',
    required: ['trainer'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      trainer: { type: 'string', enum: ids, description: 'Trainer plugin id.' },
      description: { type: 'string' },
      plugins: {
        type: 'array',
        items: { type: 'string' },
        default: [],
        description: 'Extra plugin modules (relative to the config file).',
      },
      out: { type: 'string', description: 'Output directory (relative to the working directory); default runs/train/<config name>.' },
      export: {
        type: 'string',
        description:
          'When training completes, copy the final weights to this path (relative to the config file), e.g. ../../weights/mnist/small-cnn.safetensors.',
      },
      options: { type: 'object', default: {} },
    },
    allOf: ids.map((id) => ({
      if: { properties: { trainer: { const: id } }, required: ['trainer'] },
      then: { properties: { options: registry.get('trainer', id).schema } },
    })),
  };
}

/** Read and validate a train config file (loading its `plugins` first). */
export function loadTrainConfig(
  registry: PluginRegistry,
  file: string,
): { config: DeepReadonly<TrainConfig>; baseDir: string; file: string } {
  const abs = path.resolve(file);
  const raw = readJsonFile(abs);
  const baseDir = path.dirname(abs);
  const plugins = (raw as { plugins?: unknown })?.plugins;
  if (Array.isArray(plugins)) for (const p of plugins) if (typeof p === 'string') registry.load(p, baseDir);
  const config = validateSchema<TrainConfig>(trainConfigSchema(registry), raw, abs);
  return { config, baseDir, file: abs };
}

export interface RunTrainOptions {
  readonly logger: Logger;
  /** Output directory (overrides the config's `out`). */
  readonly out?: string;
  /** Continue from the newest checkpoint in the output directory. */
  readonly resume?: boolean;
  readonly stopAfterSteps?: number;
  readonly shouldStop?: () => boolean;
  /** Copy the final weights to the config's `export` path (default true). */
  readonly export?: boolean;
}

/** The output directory a config trains into. */
export function trainOutDir(config: DeepReadonly<TrainConfig>, file: string, out?: string): string {
  return path.resolve(out ?? config.out ?? path.join('runs', 'train', path.basename(file).replace(/\.json$/i, '')));
}

/**
 * Train from a config file. Without `resume`, an output directory that already holds a checkpoint or
 * a finished run is refused (nothing is overwritten).
 */
export async function runTrainConfig(
  registry: PluginRegistry,
  file: string,
  opts: RunTrainOptions,
): Promise<TrainResult & { outDir: string; exported?: { file: string; sha256: string } }> {
  const { config, baseDir, file: abs } = loadTrainConfig(registry, file);
  const outDir = trainOutDir(config, abs, opts.out);
  if (!opts.resume) {
    const latest = findLatestCheckpoint(outDir);
    if (latest || fs.existsSync(path.join(outDir, RESULT_FILE))) {
      throw new DbpError(
        'E_EXISTS',
        `${outDir} already holds ${latest ? `a checkpoint at step ${latest.state.step}` : 'a finished run'}; pass --resume to continue it, or choose another --out`,
      );
    }
  }
  const scope = registry.createScope({ logger: opts.logger, baseDir });
  const trainer = await scope.create<Trainer>('trainer', config.trainer, config.options);
  opts.logger.info(
    `train: ${config.trainer} from ${path.relative(process.cwd(), abs) || abs} into ${path.relative(process.cwd(), outDir) || outDir}`,
  );
  const ctx = {
    outDir,
    logger: opts.logger,
    resume: Boolean(opts.resume),
    stopAfterSteps: opts.stopAfterSteps,
    shouldStop: opts.shouldStop,
  };
  const result = await trainer.train(ctx);
  let exported: { file: string; sha256: string } | undefined;
  if (config.export && opts.export !== false && !result.partial) {
    const dest = path.resolve(baseDir, config.export);
    const bytes = fs.readFileSync(result.weights);
    writeFileAtomic(dest, bytes);
    exported = { file: dest, sha256: sha256(bytes) };
    opts.logger.info(`train: exported ${path.relative(process.cwd(), dest) || dest} (sha256 ${exported.sha256})`);
  }
  return { ...result, outDir, exported };
}
