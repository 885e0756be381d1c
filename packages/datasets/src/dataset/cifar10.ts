import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { CifarDataset } from '../cifar';
import { dirOption, trainTestOption } from '../dataset-options';

export default definePlugin({
  kind: 'dataset',
  id: 'cifar10',
  description: 'CIFAR-10 32x32x3 from the official binary files (cifar-10-batches-bin)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { split: trainTestOption, dir: dirOption('cifar10') },
  },
  create: (o, ctx): Dataset => new CifarDataset('cifar10', { split: o.split, dir: ctx.resolvePath(o.dir) }, ctx.logger),
});
