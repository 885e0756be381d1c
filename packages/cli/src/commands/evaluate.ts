import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, ShapeMismatchError } from '@dbp-bench/framework';
import { loadClassifier } from '@dbp-bench/models';
import type { AddCommand } from './types';
import { collect, dataDirOption, datasetOptionsFromFlags } from './dataset-args';

/**
 * `dbp-bench eval --weights <file> --data <dataset id>`: clean accuracy of a classifier weights file
 * (a dbp-bench safetensors file, e.g. from `weights convert`) on a dataset split.
 */
export const addEvalCommand: AddCommand = (program, context) => {
  dataDirOption(
    program
      .command('eval')
      .description('clean accuracy of a classifier weights file on a dataset')
      .requiredOption('--weights <file>', 'dbp-bench safetensors classifier file (see `weights convert`)')
      .requiredOption('--data <id>', 'dataset plugin id: mnist, cifar10, cifar100, tiny-imagenet, image-folder, synthetic, ...'),
  )
    .option('--split <split>', 'dataset split', 'test')
    .option('--n <count>', 'evaluate the first n samples (default: all)', (v: string) => Number.parseInt(v, 10))
    .option('--batch-size <b>', 'batch size', (v: string) => Number.parseInt(v, 10), 100)
    .option(
      '--option <key=value>',
      'another dataset option (value parsed as JSON when it parses), e.g. labels=coarse; repeatable',
      collect,
      [],
    )
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        weights: string;
        data: string;
        dataDir?: string;
        split: string;
        n?: number;
        batchSize: number;
        option?: string[];
        json?: boolean;
      }) => {
        const ctx = context();
        await ctx.backend();
        if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)
          throw new ConfigValidationError('--batch-size', [`expected a positive integer, got ${opts.batchSize}`]);
        if (opts.n !== undefined && (!Number.isInteger(opts.n) || opts.n < 1))
          throw new ConfigValidationError('--n', [`expected a positive integer, got ${opts.n}`]);
        // Loaded lazily so that the other commands do not pay for the dataset package.
        const { openDataset } = await import('@dbp-bench/datasets');
        const registry = ctx.registry();
        const dsOptions = datasetOptionsFromFlags(registry, opts.data, opts);
        const dataset = await openDataset(opts.data, dsOptions, { registry, logger: ctx.logger, baseDir: process.cwd() });
        const model = await loadClassifier(opts.weights);
        try {
          const [h, w, c] = model.config.inputShape;
          const s = dataset.info.shape;
          if (s[0] !== h || s[1] !== w || s[2] !== c) {
            throw new ShapeMismatchError(
              `${opts.weights}: the ${model.arch} classifier expects ${h}x${w}x${c} images, dataset ${dataset.info.id} (${dataset.info.split}) has ${s[0]}x${s[1]}x${s[2]}`,
            );
          }
          if (dataset.info.numClasses !== model.numClasses) {
            ctx.logger.warn(
              `the classifier has ${model.numClasses} outputs, dataset ${dataset.info.id} has ${dataset.info.numClasses} classes`,
            );
          }
          const total = Math.min(opts.n ?? dataset.info.size, dataset.info.size);
          const progress = ctx.logger.progress('eval', total);
          let correct = 0;
          const t0 = Date.now();
          for (let i = 0; i < total; i += opts.batchSize) {
            const indices = Array.from({ length: Math.min(opts.batchSize, total - i) }, (_, k) => i + k);
            const batch = await dataset.get(indices);
            try {
              const pred = tf.tidy(() => tf.argMax(model.logits(batch.images), 1).dataSync());
              for (let k = 0; k < indices.length; k++) if (pred[k] === batch.labels[k]) correct++;
            } finally {
              batch.images.dispose();
            }
            progress.tick(indices.length, `acc ${((100 * correct) / (i + indices.length)).toFixed(2)}%`);
          }
          progress.done();
          const result = {
            weights: opts.weights,
            arch: model.arch,
            dataset: dataset.info.id,
            split: dataset.info.split,
            samples: total,
            correct,
            accuracy: total ? correct / total : 0,
            seconds: (Date.now() - t0) / 1000,
          };
          if (opts.json) ctx.out(JSON.stringify(result, null, 2));
          else
            ctx.out(
              `clean accuracy of ${model.arch} (${opts.weights}) on ${result.dataset}/${result.split}, first ${total} samples: ${(100 * result.accuracy).toFixed(2)}% (${correct}/${total})`,
            );
        } finally {
          model.dispose();
        }
      },
    );
};
