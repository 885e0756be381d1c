import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, eotRows, FreshNoiseSource, type Defense, type Progress } from '@dbp-bench/framework';
import { openDataset } from '@dbp-bench/datasets';
import { predictionCaptions, writeImageGrid, type GridCaption } from '@dbp-bench/defenses-dbp';
import { loadClassifier } from '@dbp-bench/models';
import type { AddCommand } from './types';
import { dataDirOption, datasetOptionsFromFlags } from './dataset-args';
import { rerunCommand, typedArgs, withStopSignals } from '../signals';

function nonNegativeInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new ConfigValidationError(`option ${name}`, [`expected a non-negative integer, got '${v}'`]);
    return Number(v);
  };
}

/** `--set key=value` (repeatable): a defense option; the value is parsed as JSON when it is JSON. */
function collectSet(v: string, prev: Record<string, unknown> = {}): Record<string, unknown> {
  const i = v.indexOf('=');
  if (i <= 0) throw new ConfigValidationError('option --set', [`expected key=value, got '${v}'`]);
  const key = v.slice(0, i);
  const raw = v.slice(i + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...prev, [key]: value };
}

interface PurifyCliOptions {
  defense: string;
  weights?: string;
  data: string;
  dataDir?: string;
  split: string;
  n: number;
  start: number;
  seed: number;
  batch: number;
  out: string;
  set?: Record<string, unknown>;
  classifier?: string;
}

/**
 * `dbp-bench purify`: purify the first n images of a dataset and write a PNG grid (row 1: originals,
 * row 2: purified, each row labelled) so the effect of a purification setting can be looked at; with
 * --classifier each image is captioned with its predicted class (green right, red wrong). Progress:
 * images done, and the steps of the current purification call. Ctrl-C/SIGTERM: the current call
 * finishes, the grid of the images done is written, and the command for the others is printed (exit 130).
 */
export const addPurifyCommand: AddCommand = (program, context, result) => {
  dataDirOption(
    program
      .command('purify')
      .description('purify dataset images with a defense and write a before/after PNG grid (rows: original, purified)')
      .requiredOption('--defense <id>', 'defense plugin id (identity, dp-ddpm, dp-ddim, diffpure, or a --plugin one)')
      .option('--weights <file>', 'UNet safetensors for the diffusion defenses (option `weights`)')
      .requiredOption('--data <id>', 'dataset plugin id (mnist, cifar10, cifar100, tiny-imagenet, image-folder, synthetic)'),
  )
    .option('--split <name>', 'dataset split', 'test')
    .option('--n <k>', 'number of images', nonNegativeInt('--n'), 8)
    .option('--start <i>', 'index of the first image', nonNegativeInt('--start'), 0)
    .option('--seed <s>', 'seed of the purification noise', nonNegativeInt('--seed'), 0)
    .option('--batch <b>', 'images per purification call', nonNegativeInt('--batch'), 8)
    .option('--out <file>', 'PNG file to write', 'purify-grid.png')
    .option('--classifier <file>', 'classifier safetensors: caption every image with its predicted class (green right, red wrong)')
    .option('--set <key=value>', 'a defense option, e.g. --set strength=0.15 --set numInferenceSteps=100 (repeatable)', collectSet)
    .action(async (opts: PurifyCliOptions) => {
      const ctx = context();
      await ctx.backend();
      if (opts.n < 1) throw new ConfigValidationError('option --n', ['expected at least 1 image']);
      if (opts.batch < 1) throw new ConfigValidationError('option --batch', ['expected at least 1']);
      const registry = ctx.registry();
      const dataOptions = datasetOptionsFromFlags(registry, opts.data, opts);
      const dataset = await openDataset(opts.data, dataOptions, { registry, logger: ctx.logger, baseDir: process.cwd() });
      if (opts.start + opts.n > dataset.info.size) {
        throw new ConfigValidationError('options --start/--n', [
          `images ${opts.start}..${opts.start + opts.n - 1} requested but the ${dataset.info.id} ${dataset.info.split} split has ${dataset.info.size}`,
        ]);
      }
      const defenseOptions: Record<string, unknown> = { ...(opts.set ?? {}) };
      if (opts.weights !== undefined) defenseOptions.weights = opts.weights;
      const scope = registry.createScope({ logger: ctx.logger, baseDir: process.cwd() });
      const defense = await scope.create<Defense>('defense', opts.defense, defenseOptions);
      const indices = Array.from({ length: opts.n }, (_, i) => opts.start + i);
      const originals: tf.Tensor4D[] = [];
      const purified: tf.Tensor4D[] = [];
      const batches = Math.ceil(opts.n / opts.batch);
      const args = typedArgs(program);
      try {
        // Progress: images done (after each purification call) and, nested, the steps of the current call.
        const stopped = await withStopSignals(
          ctx.logger,
          { unit: 'image batch', abandon: () => `Nothing was written (the grid is written at the end); rerun: ${rerunCommand(args)}` },
          async (stop) => {
            const bar = ctx.logger.progress(`purify ${opts.defense}`, opts.n);
            try {
              for (let b = 0; b < batches; b++) {
                const idx = indices.slice(b * opts.batch, (b + 1) * opts.batch);
                const batch = await dataset.get(idx);
                originals.push(batch.images);
                let steps: Progress | undefined;
                const label = `batch ${b + 1}/${batches} (images ${idx[0]}..${idx[idx.length - 1]})`;
                const onStep = (done: number, total: number): void => {
                  steps ??= ctx.logger.progress(label, total, done - 1);
                  steps.tick(1);
                };
                try {
                  purified.push(defense.purify(batch.images, new FreshNoiseSource(opts.seed, eotRows(idx)), { onStep }));
                } finally {
                  steps?.done();
                }
                bar.tick(idx.length);
                // let signal handlers run between calls; a stop request keeps the images done so far
                await new Promise((resolve) => setImmediate(resolve));
                if (stop.requested() && b + 1 < batches) return true;
              }
              return false;
            } finally {
              bar.done();
            }
          },
        );
        const n = purified.reduce((k, t) => k + t.shape[0], 0);
        const done = indices.slice(0, n);
        const before = tf.concat(originals) as tf.Tensor4D;
        const after = tf.concat(purified) as tf.Tensor4D;
        const [linf, l2] = tf.tidy(() => {
          const d = tf.reshape(tf.sub(after, before), [n, -1]);
          return [tf.mean(tf.max(tf.abs(d), 1)).dataSync()[0], tf.mean(tf.norm(d, 'euclidean', 1)).dataSync()[0]];
        });
        const file = path.resolve(opts.out);
        let captions: GridCaption[][] | undefined;
        let accuracy = '';
        if (opts.classifier) {
          const clf = await loadClassifier(path.resolve(opts.classifier));
          try {
            const labels = await dataset.labels(done);
            const predict = (x: tf.Tensor4D): Int32Array => tf.tidy(() => tf.argMax(clf.logits(x), 1).dataSync() as Int32Array);
            const rows = [predict(before), predict(after)];
            captions = rows.map((p) => predictionCaptions(p, labels, dataset.info.classNames));
            const acc = rows.map((p) => p.filter((v, i) => v === labels[i]).length);
            accuracy = `; classifier correct on ${acc[0]}/${n} originals, ${acc[1]}/${n} purified`;
          } finally {
            (clf as { dispose?: () => void }).dispose?.();
          }
        }
        writeImageGrid(file, [before, after], { rowLabels: ['original', 'purified'], ...(captions ? { captions } : {}) });
        tf.dispose([before, after]);
        ctx.out(
          `${file}: ${n} ${dataset.info.id} ${dataset.info.split} images ${opts.start}..${opts.start + n - 1}, defense ${opts.defense} ` +
            `(${defense.capabilities.networkCalls} network calls per image); mean |purified - original|: linf ${linf.toFixed(4)}, l2 ${l2.toFixed(4)}${accuracy}`,
        );
        if (stopped) {
          const rest = path.parse(opts.out);
          const restOut = path.join(rest.dir, `${rest.name}-from-${opts.start + n}${rest.ext || '.png'}`);
          ctx.err(
            `interrupted: ${n}/${opts.n} images purified, their grid written to ${file}; ` +
              `the other ${opts.n - n}: ${rerunCommand(args, { '--start': String(opts.start + n), '--n': String(opts.n - n), '--out': restOut })}`,
          );
          result.code = 130;
        }
      } finally {
        tf.dispose([...originals, ...purified]);
        defense.dispose?.();
      }
    });
};
