/**
 * JSON Schema validation with ajv: all errors, JSON paths in messages, defaults filled, result frozen.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigValidationError } from './errors';
import { deepFreeze, type DeepReadonly } from './json';

/** A JSON Schema object (draft-07 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

export function createAjv(): Ajv {
  return new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true });
}

const shared = createAjv();
const cache = new WeakMap<object, ValidateFunction>();

/** Turn ajv errors into one readable line each: `$.attacks[0].options.eps: must be <= 1`. */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue; // the failing `then` already says what is wrong
    let where = '$' + e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      where += `.${(e.params as { additionalProperty: string }).additionalProperty}`;
      msg = 'is not a known field';
    } else if (e.keyword === 'enum') {
      msg = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'required') {
      where += `.${(e.params as { missingProperty: string }).missingProperty}`;
      msg = 'is required';
    }
    const line = `${where}: ${msg}`;
    if (!seen.has(line)) {
      seen.add(line);
      out.push(line);
    }
  }
  return out;
}

/**
 * Validate `data` against `schema`, filling defaults into a copy; throw ConfigValidationError naming
 * `what` (a file or plugin) and every problem with its JSON path. Returns the frozen, completed value.
 */
export function validateSchema<T>(schema: JsonSchema, data: unknown, what: string): DeepReadonly<T> {
  let validate = cache.get(schema);
  if (!validate) {
    validate = shared.compile(schema);
    cache.set(schema, validate);
  }
  const copy = data === undefined ? undefined : JSON.parse(JSON.stringify(data));
  if (!validate(copy)) throw new ConfigValidationError(what, formatAjvErrors(validate.errors));
  return deepFreeze(copy as T);
}
