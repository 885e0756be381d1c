/**
 * `dbp-bench init-plugin`: a plugin package scaffolded outside the repository builds with its own
 * tsc, is listed by the CLI and benchmarks from its own run config, all in child processes (as a
 * researcher runs it), with no network.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkInitPluginArgs, relinkPlugin } from '../src/commands/init-plugin';
import { builtinRegistry } from '../src/context';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'bin', 'dbp-bench.js');
const TSC = require.resolve('typescript/bin/tsc');

/** Run the built CLI in a child process; returns status, stdout and stderr. */
function cli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, '--log-level', 'warn', ...args], { cwd, encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function readJsonl(file: string): Record<string, any>[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

/** Build the plugin package in `dir` with its own tsconfig and the repository's TypeScript, as `npm run build` does. */
function buildPlugin(dir: string): void {
  try {
    execFileSync(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    expect.fail(`tsc -p ${dir} failed:\n${(e as { stdout: string }).stdout}${(e as { stderr: string }).stderr}`);
  }
}

/** `dbp-bench run <config> --out <out>` in a child process; the run's entry and journal records. */
function runConfig(
  config: string,
  out: string,
  cwd: string,
): { entry: Record<string, any>; header: Record<string, any>; samples: Record<string, any>[] } {
  const run = cli(['run', config, '--out', out, '--entries', path.join(out, 'entries')], cwd);
  expect(run.status, run.stderr).to.equal(0);
  const runDirs = fs.readdirSync(out).filter((d) => d !== 'entries');
  expect(runDirs).to.have.length(1);
  const runDir = path.join(out, runDirs[0]);
  const journal = readJsonl(path.join(runDir, 'journal.jsonl'));
  return {
    entry: JSON.parse(fs.readFileSync(path.join(runDir, 'entry.json'), 'utf8')),
    header: journal.find((r) => r.type === 'header')!,
    samples: journal.filter((r) => r.type === 'sample'),
  };
}

describe('dbp-bench init-plugin', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-init-plugin-'));
    // Outside the repository: nothing above it resolves @dbp-bench/* but the links init-plugin makes.
    expect(path.relative(ROOT, tmp).startsWith('..'), `${tmp} is outside ${ROOT}`).to.equal(true);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('scaffolds a plugin outside the repository that builds with its own tsc, is listed and benchmarks (plugin recorded as the defense)', function () {
    this.timeout(90000);
    const dir = path.join(tmp, 'plugin');
    fs.mkdirSync(dir);
    const init = cli(['init-plugin', dir, '--id', 'test-noise', '--name', '@lab/dbp-test-noise'], tmp);
    expect(init.status, init.stderr).to.equal(0);
    for (const f of [
      'package.json',
      'tsconfig.json',
      'README.md',
      'src/defense/test-noise.ts',
      'src/plugins.ts',
      'src/index.ts',
      'run.json',
      'run-identity.json',
      'classifier.safetensors',
    ]) {
      expect(fs.existsSync(path.join(dir, f)), f).to.equal(true);
    }
    const tsconfig = JSON.parse(fs.readFileSync(path.join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.extends, 'standalone tsconfig').to.equal(undefined);
    expect(tsconfig.compilerOptions.strict).to.equal(true);
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    expect(pkg).to.deep.include({ name: '@lab/dbp-test-noise', main: 'dist/index.js', types: 'dist/index.d.ts' });
    expect(pkg.scripts.build).to.equal('tsc -p tsconfig.json');
    // The links point at the packages this CLI runs on (one tfjs-core engine for both).
    for (const name of ['@dbp-bench/framework', '@dbp-bench/core', '@tensorflow/tfjs-core']) {
      const link = path.join(dir, 'node_modules', ...name.split('/'));
      expect(fs.lstatSync(link).isSymbolicLink(), `${name} linked`).to.equal(true);
      expect(fs.realpathSync(link)).to.equal(fs.realpathSync(path.dirname(require.resolve(`${name}/package.json`))));
    }

    // Its own compiler, its own tsconfig.
    buildPlugin(dir);
    expect(fs.existsSync(path.join(dir, 'dist', 'index.js'))).to.equal(true);
    expect(fs.existsSync(path.join(dir, 'dist', 'defense', 'test-noise.d.ts'))).to.equal(true);

    const list = cli(['--plugin', dir, 'plugins', 'list'], tmp);
    expect(list.status, list.stderr).to.equal(0);
    expect(list.stdout).to.match(/defense\s+test-noise\s+@lab\/dbp-test-noise\s+\S*src\/defense\/test-noise\.ts\s+Gaussian noise/);

    const { entry, header, samples } = runConfig(path.join(dir, 'run.json'), path.join(tmp, 'runs'), tmp);
    expect(entry.defense.id).to.equal('test-noise');
    expect(entry.defense.options).to.deep.equal({ sigma: 0.25 });
    expect(entry.flags.randomized, "the sanity check saw the plugin's noise").to.equal(true);
    const robust = entry.results.robust;
    expect(robust.n).to.equal(8);
    expect(robust.value / 100).to.be.within(0, 1);
    expect(robust.value).to.be.closeTo((100 * robust.successes) / robust.n, 1e-9);
    expect(robust.value).to.be.at.most(entry.results.clean.value);

    const mod = header.identity.modules.find((m: { name: string }) => m.name === '@lab/dbp-test-noise');
    expect(mod, 'the plugin package is part of the run identity').to.not.equal(undefined);
    expect(mod.serves).to.deep.equal(['defense:test-noise']);
    expect(samples.map((s) => s.index).sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const s of samples) {
      expect(s.attacks).to.have.length(1);
      expect(s.robust === 0 || s.robust === 1, `robust of sample ${s.index}`).to.equal(true);
    }
    expect(samples.filter((s) => s.robust === 1).length).to.equal(robust.successes);
  });

  it('scaffolds an attack plugin (--kind attack) that builds, is listed and benchmarks (plugin recorded as the attack, perturbations on the budget)', function () {
    this.timeout(90000);
    const dir = path.join(tmp, 'attack');
    const init = cli(['init-plugin', dir, '--kind', 'attack', '--id', 'test-fgsm'], tmp);
    expect(init.status, init.stderr).to.equal(0);
    buildPlugin(dir);
    const list = cli(['--plugin', dir, 'plugins', 'list'], tmp);
    expect(list.stdout).to.match(
      /attack\s+test-fgsm\s+dbp-bench-plugin-test-fgsm\s+\S*src\/attack\/test-fgsm\.ts\s+One gradient-sign step/,
    );
    const { entry, header, samples } = runConfig(path.join(dir, 'run.json'), path.join(tmp, 'attack-runs'), tmp);
    expect(entry.defense.id).to.equal('identity');
    expect(entry.results.attacks.map((a: { id: string }) => a.id)).to.deep.equal(['test-fgsm']);
    expect(entry.results.attacks[0].checks.flags).to.deep.equal([]);
    expect(entry.results.robust.value / 100).to.be.within(0, 1);
    expect(header.identity.modules.find((m: { name: string }) => m.name === 'dbp-bench-plugin-test-fgsm')?.serves).to.deep.equal([
      'attack:test-fgsm',
    ]);
    expect(samples).to.have.length(8);
    const ran = samples.flatMap((s) => s.attacks).filter((a) => a.ran);
    expect(ran.length, 'the attack ran on the clean-correct samples').to.be.above(0);
    // One FGSM step of size eps under l_inf: every attacked sample sits on the budget (0.1).
    for (const a of ran) expect(a.distance.linf).to.be.closeTo(0.1, 1e-5);
  });

  it('refuses a non-empty directory, naming it (and --force writes there)', function () {
    this.timeout(30000);
    const dir = path.join(tmp, 'busy');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const r = cli(['init-plugin', dir], tmp);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(`init-plugin: ${dir} is not empty`).and.include("'notes.txt'").and.include('--force');
    expect(fs.readdirSync(dir)).to.deep.equal(['notes.txt']);
    const forced = cli(['init-plugin', dir, '--force'], tmp);
    expect(forced.status, forced.stderr).to.equal(0);
    expect(fs.existsSync(path.join(dir, 'src', 'defense', 'my-defense.ts'))).to.equal(true);
    expect(fs.readFileSync(path.join(dir, 'notes.txt'), 'utf8')).to.equal('mine');
  });

  it("--link-only recreates the links of a plugin package (and refuses a folder without package.json or a real directory in a link's place)", () => {
    const dir = path.join(tmp, 'relink');
    fs.mkdirSync(dir);
    expect(() => relinkPlugin(dir)).to.throw(`init-plugin --link-only: ${dir} has no package.json`);
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"x"}');
    const first = relinkPlugin(dir);
    const link = path.join(dir, 'node_modules', '@dbp-bench', 'framework');
    expect(first.links.map((l) => l.name)).to.include.members([
      '@dbp-bench/core',
      '@dbp-bench/framework',
      '@tensorflow/tfjs-core',
      '@dbp-bench/cli',
    ]);
    fs.unlinkSync(link);
    fs.symlinkSync(tmp, link, 'junction'); // a stale link: replaced
    relinkPlugin(dir);
    expect(fs.realpathSync(link)).to.equal(fs.realpathSync(path.dirname(require.resolve('@dbp-bench/framework/package.json'))));
    fs.unlinkSync(link);
    fs.mkdirSync(link); // an installed copy: never replaced
    expect(() => relinkPlugin(dir)).to.throw(`init-plugin: ${link} exists and is not a link`);
  });

  it('validates --kind, --id and --name with clear errors', () => {
    const registry = builtinRegistry();
    expect(() => checkInitPluginArgs({ kind: 'filter' })).to.throw(
      /--kind 'filter' is not a plugin kind \(expected one of dataset, architecture, defense, attack, trainer\)/,
    );
    expect(() => checkInitPluginArgs({ kind: 'trainer' })).to.throw(
      /--kind 'trainer' has no template yet \(init-plugin writes: defense, attack\)/,
    );
    expect(checkInitPluginArgs({ kind: 'attack' })).to.deep.include({
      kind: 'attack',
      id: 'my-attack',
      name: 'dbp-bench-plugin-my-attack',
    });
    for (const id of ['../evil', '.hidden', '-x', 'a/b', 'x'.repeat(65), '']) {
      expect(() => checkInitPluginArgs({ id }), id).to.throw(/--id '.*' is not a safe plugin id/);
    }
    expect(() => checkInitPluginArgs({ id: 'identity', registry })).to.throw(
      /--id 'identity' is already a registered defense \(package @dbp-bench\/defenses-dbp\)/,
    );
    expect(() => checkInitPluginArgs({ name: 'Bad Name' })).to.throw(/--name 'Bad Name' is not a valid npm package name/);
    expect(checkInitPluginArgs({ id: 'My.Defense_2' })).to.deep.include({
      kind: 'defense',
      id: 'My.Defense_2',
      name: 'dbp-bench-plugin-my.defense_2',
    });
  });
});
