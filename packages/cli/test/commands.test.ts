import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MissingFileError, silentLogger } from '@dbp-bench/framework';
import { loadEntries, readEntry } from '@dbp-bench/leaderboard';
import { runCliCaptured } from '../src/testing';
import { runQuickstart, quickstartConfigs } from '../src/commands/quickstart';
import { toyConfig, toyDeps, toyRegistry } from '@dbp-bench/runner/dist/test/toys';

const FIXTURES = path.resolve(__dirname, '../../../../leaderboard/test/fixtures');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-cli-'));
}

/** Run the CLI in-process and capture stdout. */
async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const r = await runCliCaptured(args);
  if (r.error) throw r.error;
  return { code: r.code!, out: r.stdout };
}

describe('cli: leaderboard commands', function () {
  this.timeout(60000);

  it('imports RobustBench model_info, validates, shows and builds the site', async () => {
    const entries = tmp();
    const imp = await cli('leaderboard', 'import-robustbench', path.join(FIXTURES, 'model_info'), '--out', entries);
    expect(imp.out).to.match(/imported 4 entries/);
    expect(fs.existsSync(path.join(entries, 'cifar10', 'linf-8_255', 'robustbench-Standard.json'))).to.equal(true);
    expect(readEntry(path.join(entries, 'cifar10', 'l2-0.5', 'robustbench-Example2020Overfit_R18.json')).results.clean!.value).to.equal(
      88.7,
    );
    expect((await cli('leaderboard', 'validate', entries)).out).to.match(/OK: 4 entries valid/);
    expect((await cli('leaderboard', 'show', entries)).out).to.match(/cifar10 — Linf, eps = 8\/255/);
    const site = tmp();
    const b = await cli('leaderboard', 'build', entries, '--out', site);
    expect(b.out).to.match(/site: .*index\.html \(4 entries, 4 pages/);
    expect(fs.existsSync(path.join(site, 'index.html'))).to.equal(true);
  });
});

describe('cli: quickstart machinery', function () {
  this.timeout(60000);

  it('runs every config of a directory in name order, writes entries and the site, and prints the table', async () => {
    const configs = tmp();
    fs.writeFileSync(path.join(configs, 'toy.safetensors'), '');
    fs.writeFileSync(path.join(configs, '02-noise.json'), JSON.stringify(toyConfig({ name: 'noise', n: 4 })));
    fs.writeFileSync(
      path.join(configs, '01-identity.json'),
      JSON.stringify(
        toyConfig({ name: 'identity', defense: 'identity', n: 4, R: 1, attacks: [{ id: 'toy-pgd', name: 'pgd', options: {} }] }),
      ),
    );
    expect(quickstartConfigs(configs).map((f) => path.basename(f))).to.deep.equal(['01-identity.json', '02-noise.json']);
    const out = tmp();
    const r = await runQuickstart({ registry: toyRegistry(), configsDir: configs, outDir: out, logger: silentLogger, deps: toyDeps() });
    expect(r.entries.map((e) => e.id)).to.deep.equal(['identity', 'noise']);
    expect(
      loadEntries(path.join(out, 'entries'))
        .map((l) => l.entry.id)
        .sort(),
    ).to.deep.equal(['identity', 'noise']);
    expect(fs.existsSync(r.site)).to.equal(true);
    expect(r.table).to.match(/Toy <defense>/);
    expect(r.table).to.match(/reduced/);
  });

  it('fails before computing anything when a weights file is missing', async () => {
    const configs = tmp();
    fs.writeFileSync(path.join(configs, '01.json'), JSON.stringify(toyConfig()));
    const deps = toyDeps();
    let err: unknown;
    try {
      await runQuickstart({ registry: toyRegistry(), configsDir: configs, outDir: tmp(), logger: silentLogger, deps });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(MissingFileError);
    expect(String(err)).to.match(/toy\.safetensors not found: needed by .*01\.json/);
    expect(deps.loaded).to.equal(0);
  });
});

describe('cli: leaderboard build on nothing', function () {
  this.timeout(60000);
  it('an entries directory without entries is an error that names it, and no site is written', async () => {
    const empty = tmp();
    const site = path.join(tmp(), 'site');
    const r = await runCliCaptured(['leaderboard', 'build', empty, '--out', site]);
    expect(r.error?.message).to.match(/holds no leaderboard entries \(expected <dataset>\/<threat>\/<id>\.json files/);
    expect(r.error?.message).to.include(empty);
    expect(fs.existsSync(site)).to.equal(false);
  });
});

describe('cli: plugins list / doc', function () {
  this.timeout(60000);

  it('plugins list shows the file each built-in plugin is defined in, relative to the working directory', async () => {
    const { out } = await cli('plugins', 'list');
    const line = out.split('\n').find((l) => /^defense\s+dp-ddpm\s/.test(l));
    expect(line, out).to.not.equal(undefined);
    const file = line!.split(/\s{2,}/)[3];
    expect(path.isAbsolute(file) ? file : path.resolve(process.cwd(), file)).to.satisfy(
      (f: string) => f.endsWith(path.join('defenses-dbp', 'src', 'defense', 'dp-ddpm.ts')) && fs.existsSync(f),
    );
    const json = JSON.parse((await cli('plugins', 'list', '--json')).out) as { kind: string; id: string; file?: string }[];
    expect(json.find((p) => p.kind === 'attack' && p.id === 'pgd')?.file).to.match(/attacks[\\/]src[\\/]attack[\\/]pgd\.ts$/);
  });

  it('plugins doc prints the README section generated from the schema', async () => {
    const { out } = await cli('plugins', 'doc', 'attack', 'pgd');
    expect(out).to.match(/^### pgd\n\nattack `pgd`: /);
    expect(out).to.include('| `steps` | integer | `20` | PGD iterations (≥ 1) |');
  });

  it('an unknown plugin kind names the kinds (and the singular of a plural), not an empty list of plugins', async () => {
    const r = await runCliCaptured(['plugins', 'schema', 'defenses', 'dp-ddpm']);
    expect(r.code).to.not.equal(0);
    expect(String(r.error?.message ?? r.stderr)).to.match(
      /unknown plugin kind 'defenses' \(did you mean 'defense'\?\); the kinds are dataset, architecture, defense, attack, trainer/,
    );
    const s = JSON.parse((await cli('plugins', 'schema', 'defense', 'dp-ddpm')).out) as { properties: Record<string, unknown> };
    expect(s.properties).to.have.property('numInferenceSteps');
  });
});
