import { definePlugin, type Dataset } from '@dbp-bench/framework';
import { ImageFolderDataset } from '../image-folder';
import { dirOption } from '../dataset-options';

const imageFolder = definePlugin({
  kind: 'dataset',
  id: 'image-folder',
  description: 'ImageNet-style folder <class>/<image>.JPEG with torchvision-style resize + center crop',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      dir: dirOption('image-folder'),
      split: {
        type: 'string',
        default: 'val',
        description: 'Subfolder of dir used when it exists (dir/<split>/<class>/...); otherwise dir holds the class folders.',
      },
      resize: {
        type: 'integer',
        minimum: 0,
        default: 256,
        description: 'Shorter side after resizing (antialiased bilinear); 0 keeps the decoded size.',
      },
      crop: {
        type: 'integer',
        minimum: 0,
        default: 224,
        description: 'Center-crop size; 0 = no crop (all images must then have the same size).',
      },
      extensions: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        default: ['.jpeg', '.jpg'],
        description: 'Image file extensions (case-insensitive); JPEG only.',
      },
      cacheSize: { type: 'integer', minimum: 0, default: 256, description: 'Processed images kept in memory.' },
    },
  },
  create: (o, ctx): Dataset => new ImageFolderDataset({ ...o, dir: ctx.resolvePath(o.dir) }),
});
export default imageFolder;
