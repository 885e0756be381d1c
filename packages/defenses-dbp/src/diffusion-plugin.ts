/**
 * What the diffusion defense plugins (dp-ddpm, dp-ddim, diffpure) share: the schema fragments of
 * their common options and the loading of the UNet named by `weights` (resolved against the
 * config's directory). Defaults are the ADDT code's (ALGORITHMS.md §3, §12). Each plugin's schema,
 * in its own file `src/defense/<id>.ts`, is the one home of its options.
 */
import * as fs from 'node:fs';
import {
  ConfigValidationError,
  DbpError,
  FILE_OPTION_KEYWORD,
  GRADIENT_MODES,
  MissingFileError,
  type Defense,
  type PluginContext,
} from '@dbp-bench/framework';
import { loadUNetFile, type UNet } from '@dbp-bench/models';
import { DiffusionPurifier } from './purifier';

export const weightsOption = {
  type: 'string',
  minLength: 1,
  [FILE_OPTION_KEYWORD]: true,
  description: 'Path of the diffusion UNet weights (dbp-bench safetensors), relative to the config file.',
} as const;
export const strengthOption = {
  type: 'number',
  exclusiveMinimum: 0,
  maximum: 1,
  default: 0.1,
  description: 't*: fraction of the diffusion noised and denoised.',
} as const;
export const gradientOption = {
  enum: [...GRADIENT_MODES],
  default: 'exact',
  description:
    "Gradient mode of attack targets created on this defense without one (the runner always names one: the attack's `gradient` option, else exact); bpda is the target's BPDA.",
} as const;
/**
 * The `surrogate` option of a diffusion defense (Lee & Kim, ALGORITHMS.md §14.3): the schedule length
 * N of the shorter-step twin that gradient mode `surrogate` differentiates through (default: the N
 * below; the option changes gradients only, never the purification).
 */
export function surrogateOption<const N extends number>(defaultSteps: N, maximum: number, what: string) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      numInferenceSteps: {
        type: 'integer',
        minimum: 1,
        maximum,
        default: defaultSteps,
        description: `N of the surrogate (${what}) that gradient mode 'surrogate' differentiates through; evaluation uses the defense's own N.`,
      },
    },
    default: {},
    description: "Lee & Kim surrogate process for gradient mode 'surrogate': the same defense with fewer, larger steps.",
  } as const;
}
export const checkpointOption = {
  type: 'boolean',
  default: true,
  description: 'Per-step recompute for exact gradients (false: plain backprop, much more memory).',
} as const;
export const precisionOption = {
  enum: ['float64', 'float32'],
  default: 'float64',
  description: 'Precision of the beta / alpha-bar schedule.',
} as const;

async function loadWeights(
  id: string,
  file: string,
  ctx: PluginContext,
): Promise<{ model: UNet; metadata: Record<string, unknown>; file: string }> {
  const resolved = ctx.resolvePath(file);
  if (!fs.existsSync(resolved)) {
    throw new MissingFileError(
      resolved,
      `option 'weights' of defense '${id}' must name a UNet safetensors file (train one with 'dbp-bench train ddpm' or convert one with 'dbp-bench weights')`,
    );
  }
  ctx.logger.debug(`${id}: loading UNet weights from ${resolved}`);
  return { ...(await loadUNetFile(resolved)), file: resolved };
}

/**
 * A UNet trained only on t < `trainTimesteps` (its file's metadata, written by `dbp-bench train` with
 * `diffusion.trainTimesteps`) has never seen the noise levels above: a chain that calls it there
 * purifies with an untrained network, so it is refused, naming the file and the options to change.
 */
function trainedRangeProblem(defense: Defense, metadata: Record<string, unknown>, file: string): string | undefined {
  const limit = metadata.trainTimesteps;
  if (typeof limit !== 'number' || !(defense instanceof DiffusionPurifier)) return undefined;
  const highest = defense.highestNetworkTime;
  if (highest < limit) return undefined;
  return (
    `the purification calls the UNet at time ${Number(highest.toFixed(3))} (of the 1000-step schedule), but ${file} was trained only on ` +
    `t < ${limit} (diffusion.trainTimesteps of its training recipe): lower 'strength' or use weights trained on all noise levels`
  );
}

/** Option combinations the schema cannot express (strength too large for N, ...) become config errors. */
function asConfigError(id: string, e: unknown): unknown {
  return e instanceof DbpError && e.code === 'E_ASSERT'
    ? new ConfigValidationError(`options of defense '${id}'`, [e.message], { cause: e })
    : e;
}

/**
 * The create() of a diffusion defense plugin: loads the UNet named by `options.weights`, hands it with
 * the other options to `make` (the defense then owns the network), and frees it again when the
 * options are rejected.
 */
export async function createWithWeights<O extends { readonly weights: string }>(
  id: string,
  options: O,
  ctx: PluginContext,
  make: (model: UNet, rest: Omit<O, 'weights'>) => Defense,
): Promise<Defense> {
  const { weights, ...rest } = options;
  const { model, metadata, file } = await loadWeights(id, weights, ctx);
  let defense: Defense;
  try {
    defense = make(model, rest);
  } catch (e) {
    model.dispose();
    throw asConfigError(id, e);
  }
  const problem = trainedRangeProblem(defense, metadata, file);
  if (problem) {
    defense.dispose?.();
    throw new ConfigValidationError(`options of defense '${id}'`, [problem]);
  }
  return defense;
}
