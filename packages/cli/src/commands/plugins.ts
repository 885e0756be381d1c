import * as path from 'node:path';
import { pluginDocSection, type RegisteredPlugin } from '@dbp-bench/framework';
import type { AddCommand } from './types';

/** A plugin's file for display: relative to the working directory when inside it, else absolute. */
export function displayFile(p: Pick<RegisteredPlugin, 'file'>, cwd = process.cwd()): string {
  if (!p.file) return '—';
  const rel = path.relative(cwd, p.file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p.file;
}

/** `dbp-bench plugins list | schema | doc`: the registered plugins, their schemas and their README sections. */
export const addPluginsCommand: AddCommand = (program, context) => {
  const plugins = program.command('plugins').description('inspect registered plugins');
  plugins
    .command('list')
    .description('list every registered plugin: kind, id, package, file, description')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const ctx = context();
      const list = ctx.registry().list();
      if (opts.json) {
        ctx.out(
          JSON.stringify(
            list.map(({ schema: _s, ...p }) => p),
            null,
            2,
          ),
        );
        return;
      }
      const rows = list.map((p) => [p.kind, p.id, p.package, displayFile(p), p.description]);
      ctx.out(formatTable(['kind', 'id', 'package', 'file', 'description'], rows));
    });
  plugins
    .command('schema <kind> <id>')
    .description("print the JSON Schema (with defaults) of one plugin's options")
    .action((kind: string, id: string) => {
      const ctx = context();
      ctx.out(JSON.stringify(ctx.registry().get(kind as never, id).schema, null, 2));
    });
  plugins
    .command('doc <kind> <id>')
    .description("print one plugin's README section (### <id>, description, options table generated from its schema)")
    .action((kind: string, id: string) => {
      const ctx = context();
      ctx.out(pluginDocSection(ctx.registry().get(kind as never, id)));
    });
};

/** A plain-text table with padded columns. */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(all[0]), line(widths.map((w) => '-'.repeat(w))), ...all.slice(1).map(line)].join('\n');
}
