/**
 * docs/ARCHITECTURE.md shows the package graph as a table (between `package-graph` markers): one row
 * per workspace package with its folder and its `@dbp-bench/*` dependencies. This test compares the
 * table with the root package.json workspaces, each package.json (`dependencies` and
 * `peerDependencies`) and each tsconfig.json (project references), so the document cannot drift from
 * the code. Adding a package means adding one row.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const DOC = path.join(ROOT, 'docs', 'ARCHITECTURE.md');
const START = '<!-- package-graph:start -->';
const END = '<!-- package-graph:end -->';

interface Row {
  name: string;
  folder: string;
  deps: string[];
}

/** The rows of the package-graph table of docs/ARCHITECTURE.md. */
function docRows(): Row[] {
  const text = fs.readFileSync(DOC, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC}: no ${START} … ${END} section`);
  const rows: Row[] = [];
  for (const line of text.slice(a + START.length, b).split('\n')) {
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (cells.length !== 3 || cells[0] === 'package' || /^-+$/.test(cells[0])) continue;
    const code = (c: string): string[] => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    const [name] = code(cells[0]);
    const [folder] = code(cells[1]);
    if (!name || !folder) throw new Error(`${DOC}: package-graph row without a package or folder: ${line}`);
    rows.push({ name, folder, deps: cells[2] === '—' ? [] : code(cells[2]) });
  }
  return rows;
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * The `@dbp-bench/*` names among a package.json's dependencies and peer dependencies (the graph), or
 * with `withDev` also its devDependencies (what its tests import, so what its tsconfig references).
 */
function dbpDeps(pkg: Record<string, unknown>, withDev = false): string[] {
  const names = new Set<string>();
  for (const field of ['dependencies', 'peerDependencies', ...(withDev ? ['devDependencies'] : [])]) {
    for (const n of Object.keys((pkg[field] as Record<string, string> | undefined) ?? {})) if (n.startsWith('@dbp-bench/')) names.add(n);
  }
  return [...names].sort();
}

/** Project references of a tsconfig.json, as folders relative to the repository root. */
function tsReferences(folder: string): string[] {
  const refs = (readJson(path.join(ROOT, folder, 'tsconfig.json')).references as { path: string }[] | undefined) ?? [];
  return refs
    .map((r) =>
      path
        .relative(ROOT, path.resolve(ROOT, folder, r.path))
        .split(path.sep)
        .join('/'),
    )
    .sort();
}

describe('docs/ARCHITECTURE.md package graph', () => {
  const rows = docRows();
  const byName = new Map(rows.map((r) => [r.name, r]));

  it('has one row per workspace package, with its folder and package name', () => {
    const workspaces = (readJson(path.join(ROOT, 'package.json')).workspaces as string[]).slice().sort();
    expect(rows.map((r) => r.folder).sort(), 'folders in the table vs workspaces of package.json').to.deep.equal(workspaces);
    expect(byName.size, 'package names in the table are unique').to.equal(rows.length);
    for (const r of rows)
      expect(readJson(path.join(ROOT, r.folder, 'package.json')).name, `${r.folder}/package.json name`).to.equal(r.name);
  });

  it("lists each package's @dbp-bench dependencies exactly as its package.json declares them", () => {
    for (const r of rows) {
      expect(r.deps.slice().sort(), `${r.name}: the table vs ${r.folder}/package.json`).to.deep.equal(
        dbpDeps(readJson(path.join(ROOT, r.folder, 'package.json'))),
      );
    }
  });

  it('every dependency is a workspace package, the tsconfig references follow the same edges (plus test-only devDependencies), and the graph has no cycle', () => {
    for (const r of rows) {
      for (const d of r.deps) expect(byName.has(d), `${r.name} depends on ${d}, which has no row`).to.equal(true);
      const withDev = dbpDeps(readJson(path.join(ROOT, r.folder, 'package.json')), true);
      for (const d of withDev) expect(byName.has(d), `${r.name} (dev) depends on ${d}, which has no row`).to.equal(true);
      expect(tsReferences(r.folder), `${r.folder}/tsconfig.json references`).to.deep.equal(
        withDev.map((d) => byName.get(d)!.folder).sort(),
      );
    }
    const rootRefs = tsReferences('.');
    for (const r of rows) expect(rootRefs, `tsconfig.json (root) references ${r.folder}`).to.include(r.folder);
    // Kahn's algorithm: every package can be placed after its dependencies.
    const placed = new Set<string>();
    let progress = true;
    while (progress) {
      progress = false;
      for (const r of rows) {
        if (!placed.has(r.name) && r.deps.every((d) => placed.has(d))) {
          placed.add(r.name);
          progress = true;
        }
      }
    }
    expect(
      rows.filter((r) => !placed.has(r.name)).map((r) => r.name),
      'packages on a dependency cycle',
    ).to.deep.equal([]);
  });

  it('@dbp-bench/core depends on no package, and the leaderboard on core only', () => {
    expect(byName.get('@dbp-bench/core')?.deps).to.deep.equal([]);
    expect(byName.get('@dbp-bench/leaderboard')?.deps).to.deep.equal(['@dbp-bench/core']);
  });
});
