/**
 * @dbp-bench/models — the networks (diffusion UNet, classifiers) and the weight formats
 * (safetensors, PyTorch checkpoint import).
 */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export * from './nn';
export * from './unet';
export * from './classifiers';
export * from './safetensors';
export * from './io';
export { unpickle, describePyValue, PyGlobal, PyObject, type PickleHooks } from './torch/pickle';
export { ZipReader, isZip } from './torch/zip';
export * from './torch/checkpoint';
export * from './torch/convert';

export { PLUGINS, register } from './plugins';
export { classifierArchitecture } from './classifier-plugin';

export const plugin: PluginModule = { name: '@dbp-bench/models', register };
