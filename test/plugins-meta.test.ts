/**
 * The plugin shape (docs/ARCHITECTURE.md, "Plugin shape"), checked for every built-in plugin (those
 * `builtinRegistry()` registers), in the package `<pkg>` that registers it:
 *
 * - its file `packages/<pkg>/src/<kind>/<id>.ts` exists, its compiled module's default export IS the
 *   registered definition, and the registry records that file;
 * - the package's one registration list `src/plugins.ts` exports `PLUGINS`, exactly the definitions
 *   the package registers;
 * - a test file `packages/<pkg>/test/<kind>/<id>.test.ts` exists;
 * - the package README.md has a `### <id>` section under its "Plugins" heading whose options table
 *   equals the one generated from the schema (`dbp-bench plugins doc <kind> <id>` prints the section);
 * - a schema snapshot `packages/<pkg>/test/schemas/<kind>/<id>.json` exists and equals the schema:
 *   pretty JSON in the schema's own key order. A schema change (an option, a default, a description)
 *   is then a visible diff of the snapshot, never an accident: it changes run-config identities and
 *   the quickstart. Rewrite the snapshots with `UPDATE_SCHEMA_SNAPSHOTS=1` after an intended change.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinRegistry } from '@dbp-bench/cli';
import {
  documentedOptionsTable,
  nearestPackageJson,
  optionsTable,
  type PluginDefinition,
  type RegisteredPlugin,
} from '@dbp-bench/framework';

const ROOT = path.resolve(__dirname, '..', '..');
const UPDATE = process.env.UPDATE_SCHEMA_SNAPSHOTS === '1';

/** The package folder (absolute) that registered `p`. */
function packageDir(p: RegisteredPlugin): string {
  if (!p.module) throw new Error(`${p.kind} '${p.id}': the registry recorded no module file for package ${p.package}`);
  const pj = nearestPackageJson(p.module);
  if (!pj) throw new Error(`${p.kind} '${p.id}': no package.json above ${p.module}`);
  return pj.dir;
}

/** The schema snapshot text of a plugin: pretty JSON in the schema's own key order. */
export function schemaSnapshotText(schema: unknown): string {
  return JSON.stringify(schema, null, 2) + '\n';
}

const rel = (f: string): string => path.relative(ROOT, f);

/** The text of the "Plugins" section (## Plugins up to the next ## heading) of a README, or undefined. */
function pluginsSection(readme: string): string | undefined {
  const m = /^## Plugins[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(readme);
  return m?.[1];
}

describe('built-in plugins: one plugin shape', () => {
  const registry = builtinRegistry();
  const plugins = registry.list();

  it('registers the built-in plugins of every kind', () => {
    for (const kind of ['dataset', 'architecture', 'defense', 'attack', 'trainer'] as const) {
      expect(registry.ids(kind).length, kind).to.be.greaterThan(0);
    }
  });

  const packages = [...new Set(plugins.map((p) => p.package))];
  for (const pkg of packages) {
    it(`${pkg}: src/plugins.ts exports PLUGINS, exactly the definitions the package registers`, () => {
      const own = plugins.filter((p) => p.package === pkg);
      const dir = packageDir(own[0]);
      const listFile = path.join(dir, 'dist', 'src', 'plugins.js');
      if (!fs.existsSync(path.join(dir, 'src', 'plugins.ts')))
        expect.fail(`${pkg}: no registration list ${rel(path.join(dir, 'src', 'plugins.ts'))}`);
      const list = (require(listFile) as { PLUGINS?: readonly PluginDefinition[] }).PLUGINS;
      expect(list, `${pkg}: ${rel(listFile)} exports no PLUGINS array`).to.be.an('array');
      const registered = own.map((p) => registry.get(p.kind, p.id));
      const missing = registered.filter((d) => !list!.includes(d)).map((d) => `${d.kind} '${d.id}'`);
      const extra = list!.filter((d) => !registered.includes(d)).map((d) => `${d.kind} '${d.id}'`);
      expect({ missing, extra }, `${pkg}: PLUGINS of src/plugins.ts and the registered plugins differ`).to.deep.equal({
        missing: [],
        extra: [],
      });
    });
  }

  for (const p of plugins) {
    describe(`${p.kind} '${p.id}' (${p.package})`, () => {
      const dir = (): string => packageDir(p);

      it(`is defined in src/${p.kind}/${p.id}.ts, whose default export is the registered definition`, () => {
        const src = path.join(dir(), 'src', p.kind, `${p.id}.ts`);
        if (!fs.existsSync(src))
          expect.fail(`${p.kind} '${p.id}': no plugin file ${rel(src)} (one file per plugin, default-exporting definePlugin({...}))`);
        const compiled = path.join(dir(), 'dist', 'src', p.kind, `${p.id}.js`);
        if (!fs.existsSync(compiled)) expect.fail(`${p.kind} '${p.id}': ${rel(src)} is not compiled to ${rel(compiled)} (npm run build)`);
        const mod = require(compiled) as { default?: unknown };
        expect(
          mod.default === registry.get(p.kind, p.id),
          `${p.kind} '${p.id}': the default export of ${rel(src)} is not the registered definition`,
        ).to.equal(true);
        expect(p.file && rel(p.file), `${p.kind} '${p.id}': the registry records another file`).to.equal(rel(src));
      });

      it(`has a test file test/${p.kind}/${p.id}.test.ts`, () => {
        const test = path.join(dir(), 'test', p.kind, `${p.id}.test.ts`);
        if (!fs.existsSync(test)) expect.fail(`${p.kind} '${p.id}': no test file ${rel(test)}`);
      });

      it('has a documented section (### <id> under "Plugins" in the package README) whose options table is the generated one', () => {
        const readmeFile = path.join(dir(), 'README.md');
        if (!fs.existsSync(readmeFile)) expect.fail(`${p.kind} '${p.id}': no ${rel(readmeFile)}`);
        const section = pluginsSection(fs.readFileSync(readmeFile, 'utf8'));
        if (section === undefined) expect.fail(`${p.kind} '${p.id}': ${rel(readmeFile)} has no "## Plugins" heading`);
        const table = documentedOptionsTable(section!, p.id);
        if (table === undefined) {
          expect.fail(
            `${p.kind} '${p.id}': ${rel(readmeFile)} has no "### ${p.id}" section with an options table under "## Plugins" (print it with: dbp-bench plugins doc ${p.kind} ${p.id})`,
          );
        }
        expect(
          table,
          `${p.kind} '${p.id}': the options table in ${rel(readmeFile)} differs from the schema's (print it with: dbp-bench plugins doc ${p.kind} ${p.id})`,
        ).to.equal(optionsTable(p.schema));
      });

      it('has a schema snapshot equal to its schema', () => {
        const file = path.join(dir(), 'test', 'schemas', p.kind, `${p.id}.json`);
        const actual = schemaSnapshotText(p.schema);
        if (UPDATE) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, actual);
          return;
        }
        if (!fs.existsSync(file)) {
          expect.fail(
            `${p.kind} '${p.id}' (${p.package}): no schema snapshot ${rel(file)} (write it with UPDATE_SCHEMA_SNAPSHOTS=1 and review it)`,
          );
        }
        expect(
          actual,
          `${p.kind} '${p.id}' (${p.package}): schema differs from its snapshot ${rel(file)} (an intended change: UPDATE_SCHEMA_SNAPSHOTS=1)`,
        ).to.equal(fs.readFileSync(file, 'utf8'));
      });
    });
  }
});
