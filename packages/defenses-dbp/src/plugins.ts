/**
 * Plugin definitions (kind `defense`): identity, dp-ddpm, dp-ddim, diffpure. The diffusion defenses
 * load a UNet from the safetensors file named by `weights` (resolved against the config's directory).
 * Defaults are the ADDT code's (ALGORITHMS.md §3, §12).
 */
import * as fs from 'node:fs';
import { ConfigValidationError, DbpError, FILE_OPTION_KEYWORD, GRADIENT_MODES, MissingFileError, type JsonSchema, type PluginContext, type PluginDefinition } from '@dbp-bench/framework';
import { loadUNet } from '@dbp-bench/models';
import type { Defense } from '@dbp-bench/framework';
import { IdentityDefense } from './defenses/identity';
import { DpDdpm, type DpDdpmOptions } from './defenses/dp-ddpm';
import { DpDdim, type DpDdimOptions } from './defenses/dp-ddim';
import { DiffPure, type DiffPureOptions } from './defenses/diffpure';

const weights = {
  type: 'string',
  minLength: 1,
  [FILE_OPTION_KEYWORD]: true,
  description: 'Path of the diffusion UNet weights (dbp-bench safetensors), relative to the config file.',
};
const strength = { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 't*: fraction of the diffusion noised and denoised.' };
const gradient = {
  enum: [...GRADIENT_MODES],
  default: 'exact',
  description: "Gradient mode of attack targets created on this defense without one (the runner always names one: the attack's `gradient` option, else exact); bpda is the target's BPDA.",
};
const checkpoint = { type: 'boolean', default: true, description: 'Per-step recompute for exact gradients (false: plain backprop, much more memory).' };
const precision = { enum: ['float64', 'float32'], default: 'float64', description: 'Precision of the beta / alpha-bar schedule.' };

export const IDENTITY_SCHEMA: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

export const DP_DDPM_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    weights,
    strength,
    numInferenceSteps: { type: 'integer', minimum: 1, maximum: 1000, default: 1000, description: 'N, the DDPM schedule length (1000 -> 101 steps at t* = 0.1).' },
    varianceType: { enum: ['fixed_large', 'fixed_small'], default: 'fixed_large', description: 'Reverse-step variance.' },
    clipSample: { type: 'boolean', default: true, description: 'Clamp x0_hat to [-1, 1] in every step.' },
    precision,
    gradient,
    checkpoint,
  },
};

export const DP_DDIM_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    weights,
    strength,
    numInferenceSteps: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'N, the DDIM schedule length (100 -> 11 steps at t* = 0.1).' },
    eta: { type: 'number', minimum: 0, default: 0, description: 'DDIM eta (0: deterministic reverse process).' },
    clipSample: { type: 'boolean', default: true, description: 'Clamp x0_hat to [-1, 1] in every step.' },
    setAlphaToOne: { type: 'boolean', default: true, description: 'abar_prev = 1 at the last step.' },
    precision,
    gradient,
    checkpoint,
  },
};

export const DIFFPURE_SCHEMA: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    weights,
    variant: { enum: ['addt', 'diffpure-original'], default: 'addt', description: 'addt: ADDT-repo VP loop (101 steps from t = 0.101); diffpure-original: NVlabs torchsde Euler from a[t-1].' },
    strength,
    numInferenceSteps: { type: 'integer', minimum: 2, maximum: 100000, default: 1000, description: 'addt: N of the grid linspace(1, 1e-3, N) (dt = -1/N).' },
    dt: { type: 'number', exclusiveMinimum: 0, maximum: 0.5, default: 0.001, description: 'diffpure-original: Euler step.' },
    corrector: { type: 'boolean', default: false, description: 'addt: one Langevin corrector step (snr) before each predictor step.' },
    snr: { type: 'number', exclusiveMinimum: 0, default: 0.16, description: 'Corrector signal-to-noise ratio.' },
    clampOutput: { type: 'boolean', default: true, description: 'Clamp the purified image to [0, 1].' },
    gradient,
    checkpoint,
  },
};

async function loadWeights(id: string, file: string, ctx: PluginContext) {
  const resolved = ctx.resolvePath(file);
  if (!fs.existsSync(resolved)) {
    throw new MissingFileError(resolved, `option 'weights' of defense '${id}' must name a UNet safetensors file (train one with 'dbp-bench train ddpm' or convert one with 'dbp-bench weights')`);
  }
  ctx.logger.debug(`${id}: loading UNet weights from ${resolved}`);
  return loadUNet(resolved);
}

/** Option combinations the schema cannot express (strength too large for N, ...) become config errors. */
function asConfigError(id: string, e: unknown): unknown {
  return e instanceof DbpError && e.code === 'E_ASSERT' ? new ConfigValidationError(`options of defense '${id}'`, [e.message], { cause: e }) : e;
}

type WithWeights<T> = T & { weights: string };

export const identityPlugin: PluginDefinition<Defense> = {
  kind: 'defense',
  id: 'identity',
  description: 'No defense: purify(x) = x (the undefended baseline).',
  schema: IDENTITY_SCHEMA,
  create: () => new IdentityDefense(),
};

/**
 * A diffusion defense plugin: loads the UNet named by the `weights` option, hands it with the other
 * options to the defense constructor, and frees it again when the options are rejected.
 */
function diffusionDefensePlugin<O>(
  id: string,
  description: string,
  schema: JsonSchema,
  make: (model: Awaited<ReturnType<typeof loadUNet>>, options: O & { ownsModel: boolean }) => Defense,
): PluginDefinition<Defense> {
  return {
    kind: 'defense',
    id,
    description,
    schema,
    async create(options: WithWeights<O>, ctx) {
      const { weights: file, ...rest } = options;
      const model = await loadWeights(id, file, ctx);
      try {
        return make(model, { ...(rest as O), ownsModel: true });
      } catch (e) {
        model.dispose();
        throw asConfigError(id, e);
      }
    },
  };
}

export const dpDdpmPlugin = diffusionDefensePlugin<DpDdpmOptions>(
  'dp-ddpm',
  'DP_DDPM: DDPM-sampler purification (ADDT code defaults: t* = 0.1, N = 1000 -> 101 steps, fixed_large variance).',
  DP_DDPM_SCHEMA,
  (model, o) => new DpDdpm(model, o),
);

export const dpDdimPlugin = diffusionDefensePlugin<DpDdimOptions>(
  'dp-ddim',
  'DP_DDIM: DDIM-sampler purification (ADDT code defaults: t* = 0.1, N = 100 -> 11 steps, eta = 0).',
  DP_DDIM_SCHEMA,
  (model, o) => new DpDdim(model, o),
);

export const diffpurePlugin = diffusionDefensePlugin<DiffPureOptions>(
  'diffpure',
  'DiffPure: VP-SDE purification (default: ADDT-repo variant, 101 Euler-Maruyama steps from t = 0.101, predictor only).',
  DIFFPURE_SCHEMA,
  (model, o) => new DiffPure(model, o),
);

export const DEFENSE_PLUGINS: readonly PluginDefinition<Defense>[] = [identityPlugin, dpDdpmPlugin, dpDdimPlugin, diffpurePlugin];
