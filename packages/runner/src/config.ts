/**
 * The run config: what a benchmark run evaluates. Its JSON Schema is composed from the schemas of the
 * registered plugins (each `{id, options}` slot validates `options` against the schema of the plugin
 * named by `id`), validated once by ajv with defaults filled, and frozen. A run is identified by the
 * hash of its frozen config.
 */
import * as path from 'node:path';
import {
  FILE_OPTION_KEYWORD,
  LIMITS,
  SAFE_ID_PATTERN,
  hashJson,
  readJsonFile,
  validateSchema,
  type DeepReadonly,
  type JsonSchema,
  type PluginKind,
  type PluginRegistry,
  type SubsetSpec,
} from '@dbp-bench/core';
import type { VoteOptions } from '@dbp-bench/framework';
import { VOTE_SCHEMA } from './vote';

export interface PluginRef {
  id: string;
  options: Record<string, unknown>;
}

export interface RunConfig {
  name: string;
  description?: string;
  seed: number;
  plugins: string[];
  dataset: PluginRef & { subset: SubsetSpec };
  classifier: { weights: string };
  defense: PluginRef & { vote?: VoteOptions };
  attacks: (PluginRef & { name?: string })[];
  evaluation: { purifications: number; batchSize: number; sanityChecks: boolean; inLoopDraws?: number };
  leaderboard: {
    /** Display name of the defense + classifier pair. */
    model: string;
    family: 'dbp' | 'at' | 'none';
    threatModel?: string;
    reducedProtocol: boolean;
    notes?: string;
  };
  output: { dir: string };
}

/** `{id, options}` slot for plugins of `kind`: id must be registered, options must fit its schema. */
export function pluginSlotSchema(registry: PluginRegistry, kind: PluginKind, extra: Record<string, JsonSchema> = {}): JsonSchema {
  const ids = registry.ids(kind);
  return {
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: { type: 'string', enum: ids }, options: { type: 'object', default: {} }, ...extra },
    allOf: ids.map((id) => ({
      if: { properties: { id: { const: id } }, required: ['id'] },
      then: { properties: { options: { ...registry.get(kind, id).schema, default: {} } } },
    })),
  };
}

const subsetSchema: JsonSchema = {
  description:
    'Which images: the first n (ADDT protocol: first 1024 test images), an explicit index list, a seeded random draw, a seeded stratified draw (as equal per class as possible, round-robin over the classes), or all.',
  oneOf: [
    {
      type: 'object',
      required: ['kind', 'n'],
      additionalProperties: false,
      properties: { kind: { const: 'first' }, n: { type: 'integer', minimum: 1 }, offset: { type: 'integer', minimum: 0, default: 0 } },
    },
    {
      type: 'object',
      required: ['kind', 'indices'],
      additionalProperties: false,
      properties: { kind: { const: 'indices' }, indices: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 } },
    },
    {
      type: 'object',
      required: ['kind', 'n', 'seed'],
      additionalProperties: false,
      properties: { kind: { const: 'random' }, n: { type: 'integer', minimum: 1 }, seed: { type: 'integer' } },
    },
    {
      type: 'object',
      required: ['kind', 'n', 'seed'],
      additionalProperties: false,
      properties: { kind: { const: 'stratified' }, n: { type: 'integer', minimum: 1 }, seed: { type: 'integer' } },
    },
    { type: 'object', required: ['kind'], additionalProperties: false, properties: { kind: { const: 'all' } } },
  ],
  default: { kind: 'first', n: 64 },
};

/** The complete run-config schema for the plugins registered now. */
export function runConfigSchema(registry: PluginRegistry): JsonSchema {
  return {
    title: 'dbp-bench run config',
    type: 'object',
    required: ['name', 'dataset', 'classifier', 'attacks'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      name: {
        type: 'string',
        pattern: SAFE_ID_PATTERN,
        description: 'Run name, the id of its leaderboard entry: a letter or digit, then letters, digits, . _ - (at most 128 characters).',
      },
      description: { type: 'string', maxLength: LIMITS.textChars },
      seed: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 },
      plugins: {
        type: 'array',
        maxItems: 64,
        items: { type: 'string', minLength: 1, maxLength: LIMITS.pathChars },
        default: [],
        description: 'Extra plugin modules (package names or paths relative to the config file).',
      },
      dataset: pluginSlotSchema(registry, 'dataset', { subset: subsetSchema }),
      classifier: {
        type: 'object',
        required: ['weights'],
        additionalProperties: false,
        properties: {
          weights: {
            type: 'string',
            minLength: 1,
            maxLength: LIMITS.pathChars,
            [FILE_OPTION_KEYWORD]: true,
            description: 'safetensors file written by dbp-bench (architecture in its metadata).',
          },
        },
      },
      defense: { ...pluginSlotSchema(registry, 'defense', { vote: VOTE_SCHEMA }), default: { id: 'identity' } },
      attacks: {
        type: 'array',
        minItems: 1,
        description: 'The attacks, run in order (each on the survivors of the earlier ones); at least one.',
        items: pluginSlotSchema(registry, 'attack', {
          name: {
            type: 'string',
            minLength: 1,
            maxLength: LIMITS.nameChars,
            description: 'Label for this attack in the results (default: its id).',
          },
        }),
      },
      evaluation: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          purifications: {
            type: 'integer',
            minimum: 1,
            default: 1,
            description: 'R: fresh purifications per adversarial example in the final evaluation.',
          },
          batchSize: { type: 'integer', minimum: 1, default: 8 },
          sanityChecks: { type: 'boolean', default: true },
          inLoopDraws: {
            type: 'integer',
            minimum: 1,
            maximum: 1024,
            description:
              "N: fresh purifications of every iterate for the any-iteration counts, independent of the attack's own draws (ALGORITHMS.md §14.4); absent: the attack's EoT copies are the in-loop draws.",
          },
        },
      },
      leaderboard: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          model: { type: 'string', maxLength: LIMITS.nameChars, default: '' },
          family: { enum: ['dbp', 'at', 'none'], default: 'dbp' },
          threatModel: {
            type: 'string',
            pattern: SAFE_ID_PATTERN,
            description: 'Threat-model id of the entry (its directory), e.g. linf-8_255; default from the attacks.',
          },
          reducedProtocol: { type: 'boolean', default: false },
          notes: { type: 'string', maxLength: LIMITS.textChars },
        },
      },
      output: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { dir: { type: 'string', minLength: 1, maxLength: LIMITS.pathChars, default: 'runs' } },
      },
    },
  };
}

/**
 * Load plugins named in the config's `plugins` list (relative to the config file), then validate the
 * config against the composed schema. Returns the frozen config and its hash.
 */
export function loadRunConfig(
  registry: PluginRegistry,
  /** A config file path (string) or the config object itself. */
  source: unknown,
  baseDir?: string,
): { config: DeepReadonly<RunConfig>; hash: string; baseDir: string; file?: string } {
  const file = typeof source === 'string' ? path.resolve(source) : undefined;
  const raw = file ? readJsonFile(file) : source;
  const dir = baseDir ?? (file ? path.dirname(file) : process.cwd());
  const plugins = (raw as { plugins?: unknown })?.plugins;
  if (Array.isArray(plugins)) for (const p of plugins) if (typeof p === 'string') registry.load(p, dir);
  const config = validateSchema<RunConfig>(runConfigSchema(registry), raw, file ?? 'run config');
  return { config, hash: runConfigHash(config), baseDir: dir, file };
}

/** The run id: a hash of the frozen config minus fields that do not change results. */
export function runConfigHash(config: DeepReadonly<RunConfig>): string {
  const { description: _d, output: _o, ...rest } = config;
  return hashJson(rest);
}
