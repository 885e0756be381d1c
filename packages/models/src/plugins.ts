/**
 * Architecture plugins: `unet` and one per classifier arch. Each creates a fresh network from its
 * options, or loads one from a dbp-bench safetensors file when `weights` is given.
 */
import type { PluginContext, PluginRegistry } from '@dbp-bench/framework';
import { ConfigValidationError, FILE_OPTION_KEYWORD } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, type UNetConfig, type UNetPreset } from './unet';
import { CLASSIFIER_ARCHS, createClassifier, defaultClassifierConfig, type ClassifierArch } from './classifiers';
import { loadClassifier, loadUNet } from './io';

export function registerArchitectures(registry: PluginRegistry): void {
  registry.add({
    kind: 'architecture',
    id: 'unet',
    description: 'diffusers UNet2DModel-style epsilon-prediction UNet (presets tiny, small, mnist, ddpm-cifar10)',
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        preset: { type: 'string', enum: Object.keys(UNET_PRESETS), default: 'ddpm-cifar10' },
        config: { type: 'object', description: 'UNetConfig fields overriding the preset', default: {} },
        weights: { type: 'string', [FILE_OPTION_KEYWORD]: true, description: 'dbp-bench safetensors file to load (overrides preset/config)', default: '' },
        seed: { type: 'integer', default: 0 },
      },
    },
    async create(o: { preset: UNetPreset; config: Partial<UNetConfig>; weights: string; seed: number }, ctx: PluginContext): Promise<UNet> {
      if (o.weights) return loadUNet(ctx.resolvePath(o.weights));
      return new UNet({ ...UNET_PRESETS[o.preset], ...o.config }, o.seed);
    },
  });
  for (const arch of CLASSIFIER_ARCHS) {
    const d = defaultClassifierConfig(arch);
    registry.add({
      kind: 'architecture',
      id: arch,
      description: `classifier ${arch} (PyTorch state-dict names; holds its input normalisation)`,
      schema: {
        type: 'object',
        additionalProperties: false,
        properties: {
          numClasses: { type: 'integer', minimum: 1, default: d.numClasses },
          inputShape: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 3, maxItems: 3, default: d.inputShape },
          mean: { type: 'array', items: { type: 'number' }, default: d.mean },
          std: { type: 'array', items: { type: 'number' }, default: d.std },
          extras: { type: 'object', description: 'arch-specific options (see README)', default: {} },
          weights: { type: 'string', [FILE_OPTION_KEYWORD]: true, description: 'dbp-bench safetensors file to load (overrides the other options)', default: '' },
          seed: { type: 'integer', default: 0 },
        },
      },
      async create(o: { numClasses: number; inputShape: [number, number, number]; mean: number[]; std: number[]; extras: Record<string, unknown>; weights: string; seed: number }, ctx: PluginContext) {
        if (o.weights) {
          const m = await loadClassifier(ctx.resolvePath(o.weights));
          if (m.arch !== arch) {
            m.dispose();
            throw new ConfigValidationError(`architecture '${arch}' options`, [`weights: ${o.weights} holds a ${m.arch} classifier, not ${arch}`]);
          }
          return m;
        }
        return createClassifier(arch as ClassifierArch, { ...o.extras, numClasses: o.numClasses, inputShape: o.inputShape, mean: o.mean, std: o.std }, o.seed);
      },
    });
  }
}
