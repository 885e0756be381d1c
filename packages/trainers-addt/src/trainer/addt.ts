import { FILE_OPTION_KEYWORD, MAX_BUDGET, definePlugin, type Trainer } from '@dbp-bench/framework';
import { GAMMA_DEFAULTS, X0_PGD_DEFAULTS } from '../cgpo';
import { DiffusionTrainer, diffusionTrainProperties } from '../diffusion-trainers';

/**
 * Trainer `addt`: ADDT fine-tuning of a DDPM UNet (ALGORITHMS.md §8): the ddpm options plus the
 * frozen classifier of CGPO, its iterations, the RBGM gamma schedule and the ablations.
 */
const addt = definePlugin({
  kind: 'trainer',
  id: 'addt',
  description: 'ADDT: fine-tune a DDPM UNet with CGPO + RBGM adversarial noise (and the no-rbgm / no-guidance ablations).',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['dataset'],
    properties: {
      ...diffusionTrainProperties(),
      classifier: {
        type: ['string', 'null'],
        [FILE_OPTION_KEYWORD]: true,
        default: null,
        description:
          'Frozen classifier for CGPO (dbp-bench safetensors; relative to the config file). Required unless ablation is no-guidance.',
      },
      cgpo: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          iterations: {
            type: 'integer',
            minimum: 1,
            default: 5,
            description: 'K: CGPO iterations (gradient evaluations) per training step.',
          },
        },
      },
      gamma: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'gamma_t = clip(scale * sqrt(abar/(1-abar)), 0, max).',
        properties: {
          scale: { type: 'number', minimum: 0, default: GAMMA_DEFAULTS.scale },
          max: { type: 'number', minimum: 0, maximum: 1, default: GAMMA_DEFAULTS.max },
        },
      },
      ablation: {
        enum: ['none', 'no-rbgm', 'no-guidance'],
        default: 'none',
        description:
          'none: ADDT; no-rbgm: l_inf PGD in x0 space instead of CGPO+RBGM; no-guidance: CGPO ascends the denoising error instead of the classifier CE.',
      },
      noRbgm: {
        type: 'object',
        additionalProperties: false,
        default: {},
        description: 'Ablation no-rbgm: x0-space PGD (pixel units; doubled in [-1,1]) and the clip of r_t.',
        properties: {
          eps: { type: 'number', minimum: 0, maximum: MAX_BUDGET.linf, default: X0_PGD_DEFAULTS.eps },
          stepSize: { type: 'number', exclusiveMinimum: 0, maximum: MAX_BUDGET.linf, default: X0_PGD_DEFAULTS.stepSize },
          rMax: { type: 'number', exclusiveMinimum: 0, default: X0_PGD_DEFAULTS.rMax },
        },
      },
    },
  },
  create: (options, ctx): Trainer => new DiffusionTrainer('addt', options, ctx),
});
export default addt;
