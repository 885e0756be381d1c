/**
 * Every built-in plugin (those `builtinRegistry()` registers) has a schema snapshot,
 * `packages/<pkg>/test/schemas/<kind>/<id>.json`: its options schema as pretty JSON, keys in the
 * schema's order. A schema change (an option, a default, a description) is then a visible diff of
 * the snapshot, never an accident: it changes run-config identities and the quickstart. Rewrite
 * the snapshots with `UPDATE_SCHEMA_SNAPSHOTS=1` after an intended change.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinRegistry } from '@dbp-bench/cli';
import { nearestPackageJson, type RegisteredPlugin } from '@dbp-bench/framework';

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

describe('built-in plugins: schema snapshots', () => {
  const registry = builtinRegistry();
  const plugins = registry.list();

  it('registers the built-in plugins of every kind', () => {
    for (const kind of ['dataset', 'architecture', 'defense', 'attack', 'trainer'] as const) {
      expect(registry.ids(kind), kind).to.not.be.empty;
    }
  });

  for (const p of plugins) {
    it(`${p.kind} '${p.id}': schema equals its snapshot`, () => {
      const file = path.join(packageDir(p), 'test', 'schemas', p.kind, `${p.id}.json`);
      const rel = path.relative(ROOT, file);
      const actual = schemaSnapshotText(p.schema);
      if (UPDATE) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, actual);
        return;
      }
      if (!fs.existsSync(file)) {
        expect.fail(`${p.kind} '${p.id}' (${p.package}): no schema snapshot ${rel} (write it with UPDATE_SCHEMA_SNAPSHOTS=1 and review it)`);
      }
      expect(actual, `${p.kind} '${p.id}' (${p.package}): schema differs from its snapshot ${rel} (an intended change: UPDATE_SCHEMA_SNAPSHOTS=1)`).to.equal(fs.readFileSync(file, 'utf8'));
    });
  }
});
