/**
 * Resume and provenance cannot mix results: the run identity (weights sha256, defense weights files
 * declared with x-dbp-file, serving plugin modules) in journal headers, refusals naming what changed,
 * --restart, merge of journals with different inputs, and dbp-bench's own commit (not the working
 * directory's).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileOptions, gitHead, sha256, tempGitRepo } from '@dbp-bench/framework';
import { DIFFPURE_SCHEMA, DP_DDIM_SCHEMA, DP_DDPM_SCHEMA } from '@dbp-bench/defenses-dbp';
import {
  RUNNER_PACKAGE_DIR,
  RunChangedError,
  buildInfoCommit,
  clearModuleIdentityCache,
  dbpBenchCommit,
  mergeRun,
  parseShard,
  readJournal,
  runBenchmark,
  trackedCheckoutCommit,
} from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

const REPO_ROOT = path.resolve(__dirname, '../../../..');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-identity-'));
}

async function run(config: object, out: string, extra: Partial<Parameters<typeof runBenchmark>[0]> = {}) {
  return runBenchmark({ registry: toyRegistry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null, ...extra });
}

async function refusal(p: Promise<unknown>): Promise<RunChangedError> {
  try {
    await p;
  } catch (e) {
    expect(e).to.be.instanceOf(RunChangedError);
    return e as RunChangedError;
  }
  throw new Error('expected the run to refuse');
}

const tempRepo = (): { dir: string; head: string } => tempGitRepo();

describe('runner: run identity (weights, plugin modules) and resume', function () {
  this.timeout(120000);

  it('the diffusion defenses declare their weights option a file (x-dbp-file)', () => {
    for (const schema of [DP_DDPM_SCHEMA, DP_DDIM_SCHEMA, DIFFPURE_SCHEMA]) {
      expect(fileOptions(schema, { weights: 'unet.safetensors', strength: 0.1 })).to.deep.equal([
        { path: 'weights', value: 'unet.safetensors' },
      ]);
    }
    expect(
      fileOptions(
        {
          type: 'object',
          properties: { a: { type: 'object', properties: { f: { type: 'string', 'x-dbp-file': true } } }, n: { type: 'number' } },
        },
        { a: { f: 'x.bin' }, n: 1 },
      ),
    ).to.deep.equal([{ path: 'a.f', value: 'x.bin' }]);
  });

  it('refuses to resume after the classifier weights changed, naming the file and both sha256 prefixes; --restart starts over', async () => {
    const out = tmp();
    const file = path.join(out, 'toy.safetensors');
    fs.writeFileSync(file, 'weights v1');
    const partial = await run(toyConfig(), out, { stopAfterBatches: 1 });
    expect(readJournal(partial.journal).header!.identity!.files[0]).to.deep.equal({
      role: 'classifier.weights',
      path: 'toy.safetensors',
      sha256: sha256('weights v1'),
    });
    fs.writeFileSync(file, 'weights v2');
    const err = await refusal(run(toyConfig(), out));
    expect(err.changes).to.deep.equal([
      `classifier.weights 'toy.safetensors' changed: sha256 ${sha256('weights v1').slice(0, 12)} -> ${sha256('weights v2').slice(0, 12)}`,
    ]);
    expect(err.message).to.match(/--restart/);
    expect(err.message).to.contain(partial.journal);
    // --restart: the journal is discarded and the run completes with the new inputs.
    const restarted = await run(toyConfig(), out, { restart: true });
    expect(restarted.complete).to.equal(true);
    expect(restarted.batchesComputed).to.equal(4);
    expect(restarted.entry!.classifier.sha256).to.equal(sha256('weights v2'));
    expect(restarted.entry!.provenance.files).to.deep.equal([
      { role: 'classifier.weights', path: 'toy.safetensors', sha256: sha256('weights v2') },
    ]);
    const fresh = await run(
      toyConfig(),
      (() => {
        const d = tmp();
        fs.writeFileSync(path.join(d, 'toy.safetensors'), 'weights v2');
        return d;
      })(),
    );
    expect(readJournal(restarted.journal).records).to.deep.equal(readJournal(fresh.journal).records);
    // Unchanged inputs resume without complaint.
    expect((await run(toyConfig(), out)).batchesComputed).to.equal(0);
  });

  it('refuses after a defense weights file (a schema-declared file option) changed', async () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, 'unet.bin'), 'unet v1');
    const cfg = toyConfig({
      defense: 'toy-file',
      defenseOptions: { weights: 'unet.bin' },
      R: 1,
      attacks: [{ id: 'toy-pgd', name: 'pgd', options: {} }],
    });
    const first = await run(cfg, out, { stopAfterBatches: 1 });
    expect(readJournal(first.journal).header!.identity!.files.map((f) => f.role)).to.deep.equal([
      'classifier.weights',
      'defense.options.weights',
    ]);
    fs.writeFileSync(path.join(out, 'unet.bin'), 'unet v2');
    const err = await refusal(run(cfg, out));
    expect(err.changes).to.deep.equal([
      `defense.options.weights 'unet.bin' changed: sha256 ${sha256('unet v1').slice(0, 12)} -> ${sha256('unet v2').slice(0, 12)}`,
    ]);
  });

  it('refuses after an external plugin module changed, naming the module; --restart works', async () => {
    const out = tmp();
    const plug = path.join(out, 'plug');
    fs.mkdirSync(plug);
    fs.writeFileSync(path.join(plug, 'package.json'), JSON.stringify({ name: 'tmp-plug', version: '0.0.1', main: 'index.js' }));
    const source = (note: string): string =>
      `// ${note}\nexports.register = (r) => r.add({ kind: 'defense', id: 'tmp-identity', description: 'identity', schema: { type: 'object', additionalProperties: false, properties: {} },\n` +
      `  create: () => ({ id: 'tmp-identity', capabilities: { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 }, purify: (x) => x.clone() }) });\n`;
    fs.writeFileSync(path.join(plug, 'index.js'), source('v1'));
    const cfg = {
      ...toyConfig({ defense: 'tmp-identity', R: 1, attacks: [{ id: 'toy-pgd', name: 'pgd', options: {} }] }),
      plugins: ['./plug'],
    };
    const first = await run(cfg, out, { stopAfterBatches: 1 });
    const mod = readJournal(first.journal).header!.identity!.modules.find((m) => m.name === 'tmp-plug')!;
    expect(mod).to.deep.include({ version: '0.0.1', files: 1, serves: ['defense:tmp-identity'] });
    fs.writeFileSync(path.join(plug, 'index.js'), source('v2: edited'));
    clearModuleIdentityCache(); // a new process would hash the module again
    const err = await refusal(run(cfg, out));
    expect(err.changes).to.have.length(1);
    expect(err.changes[0]).to.match(
      /^plugin module 'tmp-plug' \(serving defense:tmp-identity\) changed: built files sha256 [0-9a-f]{12} -> [0-9a-f]{12}$/,
    );
    expect(err.changes[0]).to.contain(mod.sha256!.slice(0, 12));
    const restarted = await run(cfg, out, { restart: true });
    expect(restarted.complete).to.equal(true);
    expect(restarted.entry!.provenance.modules!.map((m) => m.name)).to.include.members([
      '@dbp-bench/runner',
      '@dbp-bench/framework',
      'toys',
      'tmp-plug',
    ]);
  });

  it('refuses a journal of an older version (no identity); restarts an empty journal silently', async () => {
    const out = tmp();
    const partial = await run(toyConfig(), out, { stopAfterBatches: 1 });
    const lines = fs.readFileSync(partial.journal, 'utf8').split('\n').filter(Boolean);
    const header = JSON.parse(lines[0]);
    delete header.identity;
    fs.writeFileSync(partial.journal, [JSON.stringify(header), ...lines.slice(1)].join('\n') + '\n');
    expect((await refusal(run(toyConfig(), out))).changes[0]).to.match(/older dbp-bench/);
    // Only the header: nothing to mix, the run starts the journal again.
    fs.writeFileSync(partial.journal, JSON.stringify(header) + '\n');
    expect((await run(toyConfig(), out)).complete).to.equal(true);
  });

  it('merge refuses shards computed with different weights', async () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, 'toy.safetensors'), 'weights v1');
    const s0 = await run(toyConfig(), out, { shard: parseShard('0/2') });
    fs.writeFileSync(path.join(out, 'toy.safetensors'), 'weights v2');
    await run(toyConfig(), out, { shard: parseShard('1/2') });
    let err: unknown;
    try {
      mergeRun([s0.runDir]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(RunChangedError);
    expect(String(err)).to.match(/journal\.shard-1-of-2\.jsonl was computed with other inputs than .*journal\.shard-0-of-2\.jsonl/);
    expect((err as RunChangedError).changes).to.deep.equal([
      `classifier.weights 'toy.safetensors' changed: sha256 ${sha256('weights v1').slice(0, 12)} -> ${sha256('weights v2').slice(0, 12)}`,
    ]);
    // Redoing the stale shard with --restart makes the journals agree again.
    fs.writeFileSync(path.join(out, 'toy.safetensors'), 'weights v1');
    await run(toyConfig(), out, { shard: parseShard('1/2'), restart: true });
    expect(mergeRun([s0.runDir]).entry.provenance.files![0].sha256).to.equal(sha256('weights v1'));
  });

  it("dbp-bench's commit: its own checkout's, never a repository that merely contains an installed copy; else build-info.json", () => {
    const head = gitHead(REPO_ROOT);
    expect(trackedCheckoutCommit(RUNNER_PACKAGE_DIR)).to.match(new RegExp(`^${head}(-dirty)?$`));
    expect(dbpBenchCommit(RUNNER_PACKAGE_DIR, {})).to.deep.include({ source: 'git' });
    expect(dbpBenchCommit(RUNNER_PACKAGE_DIR, { DBP_GIT_COMMIT: 'abc' })).to.deep.equal({ commit: 'abc', source: 'environment' });
    // An installed copy inside a user's repository (untracked node_modules): not the user's commit.
    const user = tempRepo();
    const copy = path.join(user.dir, 'node_modules', '@dbp-bench', 'runner');
    fs.mkdirSync(copy, { recursive: true });
    fs.copyFileSync(path.join(RUNNER_PACKAGE_DIR, 'package.json'), path.join(copy, 'package.json'));
    expect(trackedCheckoutCommit(copy)).to.equal(null);
    expect(dbpBenchCommit(copy, {})).to.deep.equal({ commit: 'unknown', source: 'unknown' });
    // A copy shipped with a build-info.json (a second copy: the commit is cached per package directory).
    const built = path.join(user.dir, 'node_modules', 'dbp-bench-copy');
    fs.mkdirSync(built, { recursive: true });
    fs.copyFileSync(path.join(RUNNER_PACKAGE_DIR, 'package.json'), path.join(built, 'package.json'));
    fs.writeFileSync(path.join(built, 'build-info.json'), JSON.stringify({ commit: 'f'.repeat(40) }));
    expect(buildInfoCommit(built)).to.equal('f'.repeat(40));
    expect(dbpBenchCommit(built, {})).to.deep.equal({ commit: 'f'.repeat(40), source: 'build-info' });
  });
});
