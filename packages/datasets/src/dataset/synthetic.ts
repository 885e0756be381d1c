import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { SyntheticDataset } from '../synthetic';
import { trainTestOption } from '../dataset-options';

const synthetic = definePlugin({
  kind: 'dataset',
  id: 'synthetic',
  description: 'Procedural labelled images (class-specific oriented gratings + noise), deterministic by seed; for fast tests',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      split: trainTestOption,
      size: { type: 'integer', minimum: 1, maximum: 1000000, default: 256, description: 'Number of images.' },
      numClasses: { type: 'integer', minimum: 2, maximum: 1000, default: 10 },
      imageSize: { type: 'integer', minimum: 4, maximum: 512, default: 32, description: 'Height = width.' },
      channels: { enum: [1, 3], default: 3 },
      seed: { type: 'integer', default: 0 },
      noise: { type: 'number', minimum: 0, maximum: 1, default: 0.05, description: 'Std of the Gaussian pixel noise.' },
    },
  },
  create: (o): Dataset => new SyntheticDataset(o),
});
export default synthetic;
