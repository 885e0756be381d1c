/**
 * The documented section of a plugin, generated from its definition: a `### <id>` heading, the
 * description, and a Markdown table of the options (name, type, default, description), nested
 * object options flattened to dotted names. Package READMEs hold these sections under their
 * "Plugins" heading; the repository's plugin meta-test checks each README table equals this one.
 */
import type { PluginDefinition } from './registry';
import { FILE_OPTION_KEYWORD, type JsonSchema } from './schema';

type Node = Record<string, unknown>;

/** Escape a table cell (pipes, newlines). */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

const code = (v: unknown): string => '`' + JSON.stringify(v) + '`';

/** The type column of one schema node. */
function typeOf(s: Node): string {
  if ('const' in s) return code(s.const);
  if (Array.isArray(s.enum)) return s.enum.map(code).join(' \\| ');
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  const named = types.map((t) => {
    if (t === 'array' && s.items && typeof s.items === 'object' && !Array.isArray(s.items)) {
      const item = typeOf(s.items as Node);
      return item ? `array of ${item}` : 'array';
    }
    return t;
  });
  const text = named.join(' \\| ') || (Array.isArray(s.anyOf) || Array.isArray(s.oneOf) ? 'see description' : 'any');
  return s[FILE_OPTION_KEYWORD] === true ? `${text} (file)` : text;
}

/** Bounds and lengths of one node, as a short clause (`>= 1`, `<= 1000`, ...). */
function bounds(s: Node): string {
  const out: string[] = [];
  const add = (key: string, sym: string): void => {
    if (typeof s[key] === 'number') out.push(`${sym} ${s[key]}`);
  };
  add('minimum', '≥');
  add('exclusiveMinimum', '>');
  add('maximum', '≤');
  add('exclusiveMaximum', '<');
  add('minItems', 'items ≥');
  add('maxItems', 'items ≤');
  add('minLength', 'length ≥');
  return out.join(', ');
}

/** Rows of the options table for the properties of `schema`, names prefixed by `prefix`. */
function rows(schema: Node, prefix: string, out: string[][]): void {
  const props = (schema.properties ?? {}) as Record<string, Node>;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const [name, s] of Object.entries(props)) {
    const full = prefix + name;
    const b = bounds(s);
    const def = 'default' in s ? code(s.default) : required.has(name) ? 'required' : '—';
    const desc = [typeof s.description === 'string' ? s.description : '', b ? `(${b})` : ''].filter(Boolean).join(' ');
    out.push([`\`${full}\``, typeOf(s), def, desc || '—']);
    if (s.properties && typeof s.properties === 'object') rows(s, full + '.', out);
  }
}

/** The Markdown options table of a schema (one line per row, no trailing newline). */
export function optionsTable(schema: JsonSchema): string {
  const body: string[][] = [];
  rows(schema as Node, '', body);
  if (body.length === 0) return '| option | type | default | description |\n| --- | --- | --- | --- |\n| (none) | | | |';
  const line = (r: string[]): string => `| ${r.map(cell).join(' | ')} |`;
  // Type cells already escape their own pipes; cell() would escape them twice.
  const render = (r: string[]): string => `| ${cell(r[0])} | ${r[1]} | ${cell(r[2])} | ${cell(r[3])} |`;
  return [line(['option', 'type', 'default', 'description']), '| --- | --- | --- | --- |', ...body.map(render)].join('\n');
}

/** The README section of a plugin: `### <id>`, its kind and description, its options table. */
export function pluginDocSection(def: Pick<PluginDefinition, 'kind' | 'id' | 'description' | 'schema'>): string {
  return [`### ${def.id}`, '', `${def.kind} \`${def.id}\`: ${def.description}`, '', optionsTable(def.schema), ''].join('\n');
}

/**
 * The options table under `### <id>` in a Markdown document (the first run of lines starting with
 * `|` before the next heading), or undefined when the section or its table is missing.
 */
export function documentedOptionsTable(markdown: string, id: string): string | undefined {
  const lines = markdown.split(/\r?\n/);
  const start = lines.findIndex((l) => l.trim() === `### ${id}`);
  if (start < 0) return undefined;
  const table: string[] = [];
  for (let i = start + 1; i < lines.length && !/^#{1,3} /.test(lines[i]); i++) {
    if (lines[i].startsWith('|')) table.push(lines[i]);
    else if (table.length) break;
  }
  return table.length ? table.join('\n') : undefined;
}
