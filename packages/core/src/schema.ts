/**
 * JSON Schema validation with ajv: all errors, JSON paths in messages, defaults filled, result frozen.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ConfigValidationError } from './errors';
import { firstNonFinite } from './files';
import type { Norm } from './contracts';
import { deepFreeze, type DeepReadonly } from './json';

/** A JSON Schema object (draft-07 subset understood by ajv). */
export type JsonSchema = Record<string, unknown>;

export function createAjv(): Ajv {
  // verbose: errors carry their parent schema (the known fields for a did-you-mean)
  return new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true });
}

const shared = createAjv();
const cache = new WeakMap<object, ValidateFunction>();

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions) of two short strings. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `word` (case-insensitive edit distance at most max(1, ⌊len/3⌋)), if any. */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const dist = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dist < bestD) {
      best = c;
      bestD = dist;
    }
  }
  return best;
}

/**
 * Keep, for every failed oneOf/anyOf, only the errors of its best-matching branch: the branch with the
 * fewest errors, where a mismatched `const`/`enum` (a discriminator such as `kind`) counts as 100. When
 * every branch fails on the same discriminator, one line names its allowed values instead.
 */
function bestBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  let out = [...errors];
  const groups = out
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const g of groups) {
    if (!out.includes(g)) continue; // dropped with an outer group's losing branch
    const byBranch = new Map<number, ErrorObject[]>();
    for (const e of out) {
      if (e === g || !e.instancePath.startsWith(g.instancePath) || !e.schemaPath.startsWith(`${g.schemaPath}/`)) continue;
      const branch = e.schemaPath.slice(g.schemaPath.length + 1).split('/')[0];
      if (!/^\d+$/.test(branch)) continue;
      const k = Number(branch);
      byBranch.set(k, [...(byBranch.get(k) ?? []), e]);
    }
    if (byBranch.size === 0) continue; // several branches matched: the oneOf message itself is the problem
    const discriminator = (e: ErrorObject): boolean => e.keyword === 'const' || e.keyword === 'enum';
    const score = (es: ErrorObject[]): number => es.reduce((s, e) => s + (discriminator(e) ? 100 : 1), 0);
    const branches = [...byBranch.entries()].sort((a, b) => score(a[1]) - score(b[1]) || a[0] - b[0]);
    const losing = new Set(branches.slice(1).flatMap(([, es]) => es));
    const allOnDiscriminator =
      branches.length > 1 &&
      branches.every(([, es]) => es.some(discriminator)) &&
      new Set(branches.map(([, es]) => es.find(discriminator)!.instancePath)).size === 1;
    if (allOnDiscriminator) {
      const d = [...branches].sort((a, b) => a[0] - b[0]).map(([, es]) => es.find(discriminator)!);
      const allowed = d.flatMap((e) =>
        e.keyword === 'const'
          ? [(e.params as { allowedValue: unknown }).allowedValue]
          : (e.params as { allowedValues: unknown[] }).allowedValues,
      );
      const merged: ErrorObject = { ...d[0], keyword: 'enum', params: { allowedValues: [...new Set(allowed)] } };
      out = out.filter((e) => e !== g && !losing.has(e) && !branches[0][1].includes(e));
      out.push(merged);
      continue;
    }
    out = out.filter((e) => e !== g && !losing.has(e));
  }
  return out;
}

/**
 * Turn ajv errors into one readable line each: `$.attacks[0].options.eps: must be <= 1`. A failed
 * oneOf/anyOf reports only its best-matching branch; an unknown field gets a did-you-mean.
 */
export function formatAjvErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const e of bestBranches(errors ?? [])) {
    if (e.keyword === 'if') continue; // the failing `then` already says what is wrong
    let where = '$' + e.instancePath.replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
    let msg = e.message ?? 'is invalid';
    if (e.keyword === 'additionalProperties') {
      const field = (e.params as { additionalProperty: string }).additionalProperty;
      where += `.${field}`;
      const known = Object.keys(((e.parentSchema as JsonSchema | undefined)?.properties as JsonSchema | undefined) ?? {});
      const hint = didYouMean(field, known);
      msg = `is not a known field${hint ? ` (did you mean \`${hint}\`?)` : ''}`;
    } else if (e.keyword === 'enum') {
      msg = `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      msg = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
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
 * A NaN or ±Infinity anywhere in `data` is refused (JSON cannot hold them; they would become null).
 */
export function validateSchema<T>(schema: JsonSchema, data: unknown, what: string): DeepReadonly<T> {
  let validate = cache.get(schema);
  if (!validate) {
    validate = shared.compile(schema);
    cache.set(schema, validate);
  }
  // JSON.stringify would turn NaN and ±Infinity into null, which a `null = default` option accepts.
  const nonFinite = firstNonFinite(data);
  if (nonFinite) throw new ConfigValidationError(what, [`${nonFinite}: must be a finite number`]);
  const copy: unknown = data === undefined ? undefined : JSON.parse(JSON.stringify(data));
  if (!validate(copy)) throw new ConfigValidationError(what, formatAjvErrors(validate.errors));
  return deepFreeze(copy as T);
}

/**
 * Schema annotation for an option that names a file whose content changes results (weights, tables):
 * `{ type: 'string', 'x-dbp-file': true }`. The benchmark runner hashes every such file into the run
 * identity, so a resumed run refuses when one changed (docs/RUNNER.md, "Resume"). ajv ignores it.
 */
export const FILE_OPTION_KEYWORD = 'x-dbp-file';

/** A string option of a plugin that its schema declares a file (FILE_OPTION_KEYWORD). */
export interface FileOption {
  /** Dotted path in the options object: `weights`, `model.checkpoint`, `files[1]`. */
  path: string;
  /** The option's value: the file path as written in the config. */
  value: string;
}

/**
 * The options of `value` (an options object validated against `schema`) that the schema declares as
 * files, in schema order. Follows `properties`, `items` and the branches of `allOf`/`anyOf`/`oneOf`
 * (a path found twice is listed once).
 */
export function fileOptions(schema: JsonSchema, value: unknown, prefix = ''): FileOption[] {
  const out: FileOption[] = [];
  const seen = new Set<string>();
  const walk = (s: unknown, v: unknown, at: string): void => {
    if (!s || typeof s !== 'object') return;
    const sc = s as Record<string, unknown>;
    if (sc[FILE_OPTION_KEYWORD] === true && typeof v === 'string' && !seen.has(at)) {
      seen.add(at);
      out.push({ path: at, value: v });
    }
    const props = sc.properties as Record<string, unknown> | undefined;
    if (props && v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, sub] of Object.entries(props)) {
        if (k in (v as Record<string, unknown>)) walk(sub, (v as Record<string, unknown>)[k], at ? `${at}.${k}` : k);
      }
    }
    if (sc.items && Array.isArray(v))
      v.forEach((item, i) => walk(Array.isArray(sc.items) ? (sc.items as unknown[])[i] : sc.items, item, `${at}[${i}]`));
    for (const key of ['allOf', 'anyOf', 'oneOf']) {
      const list = sc[key];
      if (Array.isArray(list)) for (const sub of list) walk(sub, v, at);
    }
  };
  walk(schema, value, prefix);
  return out;
}

/**
 * The largest budget (and step size) an attack or training option may name, per norm, in [0, 1]
 * pixel units. l_inf: 1, the width of the pixel range (a larger ball contains the whole box
 * [0, 1]^d). l_2: 1000 = sqrt(10^6): the l_2 diameter of [0, 1]^d is sqrt(d), and no built-in dataset
 * yields more than 10^6 values per image (synthetic: at most 512x512x3 = 786,432, diameter 886.8;
 * image-folder's default 224x224 crop: diameter 388). Where the input is known, the attacks also
 * refuse an l_2 budget above its own diameter sqrt(H·W·C) (@dbp-bench/attacks, checkBudgetFitsInput).
 */
export const MAX_BUDGET: Readonly<Record<Norm, number>> = Object.freeze({ linf: 1, l2: 1000 });

/**
 * Why an l_2 budget is too large for inputs of `shape` [H, W, C] (undefined when it is not, and for
 * l_inf): above sqrt(H·W·C), the l_2 diameter of the input box [0, 1]^(H·W·C), the ball contains the
 * whole box and the budget constrains nothing, so the value is a mistake.
 */
export function budgetExceedsInput(threat: { readonly norm: Norm; readonly eps: number }, shape: readonly number[]): string | undefined {
  if (threat.norm !== 'l2') return undefined;
  const [h, w, c] = shape;
  const d = h * w * c;
  const diameter = Math.sqrt(d);
  if (threat.eps <= diameter) return undefined;
  return `${threat.eps} exceeds ${diameter.toFixed(4)} = sqrt(${h}·${w}·${c}), the l_2 diameter of the ${h}x${w}x${c} input box [0,1]^${d}; a budget that large does not constrain the image`;
}

/**
 * Schema rules (for `allOf`) that bound the `eps` and `stepSize` properties of an options object by
 * MAX_BUDGET of its `norm`. `defaultNorm` is the norm a missing `norm` means (null: unknown, then the
 * looser l_2 bound applies).
 */
export function budgetRules(defaultNorm: Norm | null): JsonSchema[] {
  const bound = (norm: Norm): JsonSchema => ({
    properties: { eps: { maximum: MAX_BUDGET[norm] }, stepSize: { maximum: MAX_BUDGET[norm] } },
  });
  const missing = defaultNorm ?? 'l2';
  return [
    { if: { properties: { norm: { const: 'l2' } }, required: ['norm'] }, then: bound('l2') },
    { if: { properties: { norm: { const: 'linf' } }, required: ['norm'] }, then: bound('linf') },
    { if: { not: { required: ['norm'] } }, then: bound(missing) },
  ];
}
