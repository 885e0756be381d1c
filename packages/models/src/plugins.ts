/**
 * The architecture plugins of this package, one file each (`src/architecture/<id>.ts`,
 * default-exporting its definition): `unet` and one per classifier arch (CLASSIFIER_ARCHS).
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import unet from './architecture/unet';
import smallCnn from './architecture/small-cnn';
import resnet20 from './architecture/resnet20';
import resnet56 from './architecture/resnet56';
import preactResnet18 from './architecture/preact-resnet18';
import wrn2810 from './architecture/wrn-28-10';

/** Every plugin this package registers. */
export const PLUGINS: readonly PluginDefinition[] = [unet, smallCnn, resnet20, resnet56, preactResnet18, wrn2810];

/** Register this package's plugins (kind 'architecture'). */
export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
