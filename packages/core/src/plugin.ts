/**
 * One plugin shape. A plugin is one file, `src/<kind>/<id>.ts`, exporting one definition made by
 * `definePlugin({ kind, id, description, schema, create })`. The schema is the only home of the
 * option names, types and defaults: `create` receives `OptionsOf<typeof schema>`, the type the schema
 * accepts once ajv has filled its defaults, so a default is never written a second time in code.
 */
import type { DeepReadonly } from './json';
import type { PluginContext, PluginDefinition, PluginKind } from './registry';
import { validateSchema, type JsonSchema } from './schema';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type TypeOf<T, S> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { items: infer I }
            ? FromSchema<I>[]
            : unknown[]
          : T extends 'object'
            ? S extends { properties: infer P }
              ? ObjectOf<P, S>
              : Record<string, unknown>
            : unknown;

/** Keys of `P` that are present after validation: those with a `default` and those `required`. */
type Present<P, S> = {
  [K in keyof P]-?: P[K] extends { default: unknown }
    ? K
    : S extends { required: readonly (infer R)[] }
      ? K extends R
        ? K
        : never
      : never;
}[keyof P];

type ObjectOf<P, S> = Simplify<
  { [K in Present<P, S> & keyof P]: FromSchema<P[K]> } & { [K in Exclude<keyof P, Present<P, S>>]?: FromSchema<P[K]> }
>;

/**
 * The value a JSON Schema literal accepts (the subset plugin schemas use: `const`, `enum`, `type` —
 * one name or a list —, `items`, `properties`, `required`, `default`). Properties with a `default` or
 * listed in `required` are present; the others are optional. Declare the schema `as const` (or pass it
 * straight to `definePlugin`) so its literals survive.
 */
export type FromSchema<S> = S extends { const: infer C }
  ? C
  : S extends { enum: readonly (infer E)[] }
    ? E
    : S extends { type: readonly (infer T)[] }
      ? TypeOf<T, S>
      : S extends { type: infer T }
        ? TypeOf<T, S>
        : unknown;

/** What a plugin's create() receives: the validated options, defaults filled, deeply frozen. */
export type OptionsOf<S> = DeepReadonly<FromSchema<S>>;

/** A plugin definition whose schema keeps its literal type (so `OptionsOf<typeof def.schema>` works). */
export interface TypedPluginDefinition<S extends JsonSchema, T> extends PluginDefinition<T> {
  readonly schema: S;
  create(options: OptionsOf<S>, ctx: PluginContext): T | Promise<T>;
}

/**
 * Define a plugin. The schema is taken as a literal (a `const` type parameter), so `create`'s
 * `options` are typed from it with no separate interface to keep in step.
 */
export function definePlugin<const S extends JsonSchema, T>(def: {
  readonly kind: PluginKind;
  readonly id: string;
  readonly description: string;
  readonly schema: S;
  create(options: OptionsOf<S>, ctx: PluginContext): T | Promise<T>;
}): TypedPluginDefinition<S, T> {
  return Object.freeze({ ...def });
}

/**
 * The options `def.create` would receive for `partial`: validated against the plugin's schema with
 * defaults filled (for programmatic use and tests; throws ConfigValidationError naming the plugin).
 */
export function pluginOptions<S extends JsonSchema>(
  def: { readonly kind: PluginKind; readonly id: string; readonly schema: S },
  partial: unknown = {},
): OptionsOf<S> {
  return validateSchema<FromSchema<S>>(def.schema, partial, `options of ${def.kind} '${def.id}'`);
}

const withoutCache = new WeakMap<object, Map<string, JsonSchema>>();

/** `schema` without the properties `keys` (dropped from `properties` and `required`); cached per schema. */
function schemaWithout(schema: JsonSchema, keys: readonly string[]): JsonSchema {
  const key = [...keys].sort().join('\0');
  let bySchema = withoutCache.get(schema);
  if (!bySchema) withoutCache.set(schema, (bySchema = new Map<string, JsonSchema>()));
  let out = bySchema.get(key);
  if (!out) {
    const props = { ...((schema.properties ?? {}) as Record<string, unknown>) };
    for (const k of keys) delete props[k];
    const required = Array.isArray(schema.required) ? (schema.required as string[]).filter((r) => !keys.includes(r)) : undefined;
    out = { ...schema, properties: props, ...(required ? { required } : {}) };
    bySchema.set(key, out);
  }
  return out;
}

/**
 * Like `pluginOptions`, for the part of a plugin's options that a class takes when it is built in
 * code: the options without `keys` (e.g. a diffusion defense's `weights`, when the caller hands the
 * class a network), validated with the plugin's schema minus those properties, defaults filled.
 */
export function pluginOptionsWithout<S extends JsonSchema, const K extends string>(
  def: { readonly kind: PluginKind; readonly id: string; readonly schema: S },
  keys: readonly K[],
  partial: unknown = {},
): Omit<OptionsOf<S>, K> {
  return validateSchema<Omit<FromSchema<S>, K>>(schemaWithout(def.schema, keys), partial, `options of ${def.kind} '${def.id}'`) as Omit<
    OptionsOf<S>,
    K
  >;
}
