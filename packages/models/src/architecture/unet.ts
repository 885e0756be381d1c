import { FILE_OPTION_KEYWORD, definePlugin } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, type UNetConfig, type UNetPreset } from '../unet';
import { loadUNet } from '../io';

/**
 * Architecture `unet`: a fresh UNet from a preset (and config overrides), or one loaded from a
 * dbp-bench safetensors file when `weights` is given.
 */
export default definePlugin({
  kind: 'architecture',
  id: 'unet',
  description: 'diffusers UNet2DModel-style epsilon-prediction UNet (presets tiny, small, mnist, ddpm-cifar10)',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      preset: { type: 'string', enum: Object.keys(UNET_PRESETS), default: 'ddpm-cifar10' },
      config: { type: 'object', description: 'UNetConfig fields overriding the preset', default: {} },
      weights: {
        type: 'string',
        [FILE_OPTION_KEYWORD]: true,
        description: 'dbp-bench safetensors file to load (overrides preset/config)',
        default: '',
      },
      seed: { type: 'integer', default: 0 },
    },
  },
  async create(o, ctx): Promise<UNet> {
    if (o.weights) return loadUNet(ctx.resolvePath(o.weights));
    return new UNet({ ...UNET_PRESETS[o.preset as UNetPreset], ...(o.config as Partial<UNetConfig>) }, o.seed);
  },
});
