import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { TinyImageNetDataset } from '../tiny-imagenet';
import { dirOption } from '../dataset-options';

const tinyImagenet = definePlugin({
  kind: 'dataset',
  id: 'tiny-imagenet',
  description: 'Tiny-ImageNet-200 64x64x3 JPEGs (official train/ and val/ layout); class = index in the sorted wnid list',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: { enum: ['train', 'val'], default: 'val', description: 'Split (the official test split has no labels).' },
      dir: dirOption('tiny-imagenet'),
      cacheSize: { type: 'integer', minimum: 0, default: 4096, description: 'Decoded images kept in memory (12 KiB each).' },
    },
  },
  create: (o, ctx): Dataset => new TinyImageNetDataset({ ...o, dir: ctx.resolvePath(o.dir) }),
});
export default tinyImagenet;
