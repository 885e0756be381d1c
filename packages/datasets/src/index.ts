/**
 * @dbp-bench/datasets — MNIST, CIFAR-10/100, Tiny-ImageNet, ImageNet-style folders and a synthetic
 * set behind the framework `Dataset` contract (NHWC float32 in [0,1], Int32 labels, access by index
 * list), plus subsets with provenance hashes, batching, and verified downloads.
 */
import { PluginRegistry, type Dataset, type Logger, type PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

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

export { PLUGINS, register } from './plugins';

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
