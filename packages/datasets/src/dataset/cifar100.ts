import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { CifarDataset } from '../cifar';
import { dirOption, trainTestOption } from '../dataset-options';

export default definePlugin({
  kind: 'dataset',
  id: 'cifar100',
  description: 'CIFAR-100 32x32x3 from the official binary files (cifar-100-binary), fine or coarse labels',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: trainTestOption,
      dir: dirOption('cifar100'),
      labels: {
        enum: ['fine', 'coarse'],
        default: 'fine',
        description: 'Which label get()/labels() return: fine (100 classes) or coarse (20 superclasses).',
      },
    },
  },
  create: (o, ctx): Dataset => new CifarDataset('cifar100', { split: o.split, dir: ctx.resolvePath(o.dir), labels: o.labels }, ctx.logger),
});
