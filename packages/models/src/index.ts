/**
 * @dbp-bench/models — the networks (diffusion UNet, classifiers) and the weight formats
 * (safetensors, PyTorch checkpoint import).
 */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';
import { registerArchitectures } from './plugins';

export * from './nn';
export * from './unet';
export * from './classifiers';
export * from './safetensors';
export * from './io';
export { unpickle, describePyValue, PyGlobal, PyObject, type PickleHooks } from './torch/pickle';
export { ZipReader, isZip } from './torch/zip';
export * from './torch/checkpoint';
export * from './torch/convert';

/** Register this package's plugins (kind 'architecture'). */
export function register(registry: PluginRegistry): void {
  registerArchitectures(registry);
}

export const plugin: PluginModule = { name: '@dbp-bench/models', register };
