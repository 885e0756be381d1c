/**
 * The publishable packages are `npm pack`-able: `npm pack --dry-run --json` lists their built output
 * (dist/src), README and package.json, and nothing else (no tests, no TypeScript sources, no build
 * info, no stale output of a deleted source). What the pack would ship is what an external plugin or a
 * registry install of dbp-bench gets.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

interface PackResult {
  name: string;
  version: string;
  files: { path: string }[];
}

interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  main?: string;
  types?: string;
  files?: string[];
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** `npm` on PATH (npm.cmd on Windows), or undefined. */
function npmCommand(): string | undefined {
  const cmd = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(cmd, ['--version'], { encoding: 'utf8', shell: process.platform === 'win32' });
  return r.status === 0 ? cmd : undefined;
}

/** The workspace folders (root package.json) with their package.json. */
function workspaces(): { dir: string; pkg: PackageJson }[] {
  const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.map((w) => ({
    dir: w,
    pkg: JSON.parse(fs.readFileSync(path.join(ROOT, w, 'package.json'), 'utf8')) as PackageJson,
  }));
}

describe('npm pack of the publishable packages', () => {
  let packs: Map<string, PackResult>;
  const publishable = workspaces().filter((w) => !w.pkg.private);

  before(function () {
    this.timeout(60000);
    const npm = npmCommand();
    if (!npm) {
      console.log('    (skipped: npm is not on PATH; the pack checks need `npm pack --dry-run --json`)');
      this.skip();
    }
    // --ignore-scripts: the packages ship what `npm run build` left in dist (the root `prepare` builds it).
    const args = ['pack', '--dry-run', '--json', '--ignore-scripts', ...publishable.flatMap((w) => ['-w', w.dir])];
    const r = spawnSync(npm!, args, { cwd: ROOT, encoding: 'utf8', shell: process.platform === 'win32', maxBuffer: 64 << 20 });
    expect(r.status, `npm ${args.join(' ')} failed:\n${r.stderr}`).to.equal(0);
    packs = new Map((JSON.parse(r.stdout) as PackResult[]).map((p) => [p.name, p]));
  });

  it('packs @dbp-bench/core and @dbp-bench/framework (and every other publishable package)', () => {
    expect([...packs.keys()]).to.include.members(['@dbp-bench/core', '@dbp-bench/framework']);
    expect([...packs.keys()].sort()).to.deep.equal(publishable.map((w) => w.pkg.name).sort());
  });

  it('each pack holds dist/src, README.md and package.json, its main and types, and nothing from test/ or TypeScript sources', () => {
    for (const { dir, pkg } of publishable) {
      const files = packs.get(pkg.name)!.files.map((f) => f.path);
      const where = `${pkg.name} (${dir}/package.json "files")`;
      expect(files, where).to.include.members(['package.json', 'README.md']);
      expect(
        files.some((f) => f.startsWith('dist/src/')),
        `${where}: dist/src`,
      ).to.equal(true);
      for (const f of [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})]) {
        if (f) expect(files, `${where}: ${f} named by package.json`).to.include(path.posix.normalize(f));
      }
      const allowed = (pkg.files ?? []).map((f) => path.posix.normalize(f).replace(/\/$/, ''));
      for (const f of files) {
        if (f === 'package.json' || f === 'README.md') continue;
        expect(
          allowed.some((a) => f === a || f.startsWith(a + '/')),
          `${where}: ${f} is not under files`,
        ).to.equal(true);
        expect(/(^|\/)test\//.test(f), `${where}: ${f} is a test file`).to.equal(false);
        expect(f.endsWith('.ts') && !f.endsWith('.d.ts'), `${where}: ${f} is a TypeScript source`).to.equal(false);
        expect(f.endsWith('.tsbuildinfo'), `${where}: ${f} is build info`).to.equal(false);
      }
    }
  });

  it('ships no stale output: every dist/src/**/*.js has its src/**/*.ts', () => {
    for (const { dir, pkg } of publishable) {
      for (const f of packs.get(pkg.name)!.files.map((x) => x.path)) {
        const m = /^dist\/(src\/.*)\.js$/.exec(f);
        if (!m) continue;
        const source = path.join(ROOT, dir, `${m[1]}.ts`);
        expect(
          fs.existsSync(source),
          `${pkg.name}: ${f} has no ${path.relative(ROOT, source)} (stale build output of a deleted source: remove ${dir}/dist and run npm run build)`,
        ).to.equal(true);
      }
    }
  });

  it('depends on the @dbp-bench packages at the versions the workspace has', () => {
    const versions = new Map(workspaces().map((w) => [w.pkg.name, w.pkg.version]));
    for (const { pkg } of publishable) {
      for (const deps of [pkg.dependencies, pkg.peerDependencies, pkg.devDependencies]) {
        for (const [name, range] of Object.entries(deps ?? {})) {
          if (!name.startsWith('@dbp-bench/')) continue;
          expect(versions.has(name), `${pkg.name} depends on ${name}, which is not a workspace package`).to.equal(true);
          expect(range, `${pkg.name} -> ${name}`).to.equal(versions.get(name));
        }
      }
    }
  });
});
