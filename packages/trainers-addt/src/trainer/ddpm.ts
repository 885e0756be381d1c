import { definePlugin, type Trainer } from '@dbp-bench/framework';
import { DiffusionTrainer, diffusionTrainProperties } from '../diffusion-trainers';

/** Trainer `ddpm`: DDPM denoising training of a UNet (from scratch or fine-tuning), ADDT recipe defaults. */
const ddpm = definePlugin({
  kind: 'trainer',
  id: 'ddpm',
  description: 'DDPM denoising training (from scratch or fine-tuning a UNet) with EMA, gradient clipping and dropout.',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['dataset'],
    properties: diffusionTrainProperties(),
  },
  create: (options, ctx): Trainer => new DiffusionTrainer('ddpm', options, ctx),
});
export default ddpm;
