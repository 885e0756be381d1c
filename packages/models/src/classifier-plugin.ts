/**
 * The architecture plugin of a classifier arch (one per CLASSIFIER_ARCHS, each in its own file
 * `src/architecture/<arch>.ts`): a fresh network from its options, or one loaded from a dbp-bench
 * safetensors file when `weights` is given. The defaults of numClasses, inputShape, mean and std are
 * the arch's `defaultClassifierConfig`.
 */
import { ConfigValidationError, FILE_OPTION_KEYWORD, definePlugin } from '@dbp-bench/framework';
import { createClassifier, defaultClassifierConfig, type ClassifierArch, type ClassifierModel } from './classifiers';
import { loadClassifier } from './io';

export function classifierArchitecture(arch: ClassifierArch) {
  const d = defaultClassifierConfig(arch);
  return definePlugin({
    kind: 'architecture',
    id: arch,
    description: `classifier ${arch} (PyTorch state-dict names; holds its input normalisation)`,
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        numClasses: { type: 'integer', minimum: 1, default: d.numClasses },
        inputShape: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3, default: d.inputShape },
        mean: { type: 'array', items: { type: 'number' }, default: d.mean },
        std: { type: 'array', items: { type: 'number' }, default: d.std },
        extras: { type: 'object', description: 'arch-specific options (see README)', default: {} },
        weights: {
          type: 'string',
          [FILE_OPTION_KEYWORD]: true,
          description: 'dbp-bench safetensors file to load (overrides the other options)',
          default: '',
        },
        seed: { type: 'integer', default: 0 },
      },
    },
    async create(o, ctx): Promise<ClassifierModel> {
      if (o.weights) {
        const m = await loadClassifier(ctx.resolvePath(o.weights));
        if (m.arch !== arch) {
          m.dispose();
          throw new ConfigValidationError(`architecture '${arch}' options`, [
            `weights: ${o.weights} holds a ${m.arch} classifier, not ${arch}`,
          ]);
        }
        return m;
      }
      const inputShape = o.inputShape as unknown as [number, number, number];
      return createClassifier(arch, { ...o.extras, numClasses: o.numClasses, inputShape, mean: [...o.mean], std: [...o.std] }, o.seed);
    },
  });
}
