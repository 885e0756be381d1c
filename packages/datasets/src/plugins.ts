/**
 * The dataset plugins of this package, one file each (`src/dataset/<id>.ts`, default-exporting its
 * definition), and their registration.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import mnist from './dataset/mnist';
import cifar10 from './dataset/cifar10';
import cifar100 from './dataset/cifar100';
import tinyImagenet from './dataset/tiny-imagenet';
import imageFolder from './dataset/image-folder';
import synthetic from './dataset/synthetic';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [mnist, cifar10, cifar100, tinyImagenet, imageFolder, synthetic];

/** Register this package's dataset plugins. */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
