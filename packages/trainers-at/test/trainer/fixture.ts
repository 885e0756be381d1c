// What every classifier trainer's test file checks, with the trainer's own expectations.
import { expect } from 'chai';
import * as path from 'node:path';
import { ConfigValidationError, MemoryLogger, PluginRegistry, type Trainer } from '@dbp-bench/framework';
import { loadClassifier } from '@dbp-bench/models';
import { plugin, type ClassifierTrainOptions } from '../../src';
import { canTrainConvs, memoryDatasetPlugin, tmpDir } from '../helpers';

export function trainerRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({ name: 'test', register: (x) => x.add(memoryDatasetPlugin) });
  return r.use(plugin);
}

/** The minimal options of a classifier trainer (the required dataset and model). */
export const REQUIRED = { dataset: { id: 'memory' }, model: { arch: 'small-cnn' } } as const;

/** A one-step run of `id` on 16x16 digits with a tiny small-cnn: returns the result after checking the weights load. */
export async function trainOneStep(id: string, extra: Record<string, unknown> = {}): Promise<{ finalLoss: number; steps: number }> {
  const r = trainerRegistry();
  const trainer = await r.createScope().create<Trainer>('trainer', id, {
    ...REQUIRED,
    dataset: { id: 'memory', options: { n: 16, size: 16, channels: 1 } },
    model: { arch: 'small-cnn', config: { channels: [4, 8], hidden: 16 } },
    steps: 1,
    batchSize: 8,
    evalEvery: -1,
    eval: { enabled: false },
    attack: { eps: 0.1, stepSize: 0.05, steps: 1 },
    ...extra,
  });
  const res = await trainer.train({ outDir: path.join(tmpDir(id), 'out'), logger: new MemoryLogger() });
  expect(res.steps).to.equal(1);
  expect(Number.isFinite(res.finalLoss)).to.equal(true);
  const m = await loadClassifier(res.weights);
  expect(m.arch).to.equal('small-cnn');
  m.dispose();
  return res;
}

/** The options a trainer gets with only the required fields given. */
export function defaults(id: string): ClassifierTrainOptions {
  return trainerRegistry().options<ClassifierTrainOptions>('trainer', id, REQUIRED) as ClassifierTrainOptions;
}

/** Expect create(id, options) to be refused with a ConfigValidationError naming the trainer and `field`. */
export async function expectRefused(id: string, options: Record<string, unknown>, field: RegExp): Promise<void> {
  const err = await trainerRegistry()
    .createScope()
    .create('trainer', id, { ...REQUIRED, ...options })
    .then(
      () => undefined,
      (e: Error) => e,
    );
  expect(err, JSON.stringify(options)).to.be.instanceOf(ConfigValidationError);
  expect(err!.message).to.match(new RegExp(`options of trainer '${id}'[\\s\\S]*${field.source}`));
}

export { canTrainConvs };
