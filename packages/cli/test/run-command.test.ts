/**
 * `dbp-bench run` as a command: the runner reached through the CLI (in-process and as the built bin)
 * with the built-in plugins and an external plugin module: the attack-check warning on stderr and the
 * flagged table, dbp-bench's own commit when run from another repository, and one writer per shard
 * across processes. The runner itself is tested in @dbp-bench/runner.
 */
import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createClassifier, saveModel } from '@dbp-bench/models';
import { readEntry } from '@dbp-bench/leaderboard';
import { gitHead, tempGitRepo } from '@dbp-bench/framework';
import { readJournal } from '@dbp-bench/runner';
import { runCliCaptured, writeSyntheticRunConfig } from '../src/testing';

const CLI = path.resolve(__dirname, '..', '..', 'bin', 'dbp-bench.js');
const REPO_ROOT = path.resolve(__dirname, '../../../..');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-run-command-'));
}

const tempRepo = (): { dir: string; head: string } => tempGitRepo();

function exited(child: ChildProcess): Promise<{ code: number | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr, stdout })));
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 60000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('cli: dbp-bench run', function () {
  this.timeout(120000);

  it('through the CLI: an external gradient-masking plugin gets a loud warning on stderr and a flagged table', async () => {
    const dir = tmp();
    const plug = path.join(dir, 'masking-plugin');
    fs.mkdirSync(path.join(plug, 'dist'), { recursive: true });
    fs.writeFileSync(
      path.join(plug, 'package.json'),
      JSON.stringify({ name: 'masking-plugin', version: '1.2.3', main: 'dist/index.js', files: ['dist'] }),
    );
    fs.writeFileSync(
      path.join(plug, 'dist', 'index.js'),
      `const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-core'))});
class ZeroGrad {
  constructor() { this.id = 'zero-grad'; this.capabilities = { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 }; }
  purify(x) { return tf.customGrad((v) => ({ value: tf.clone(v), gradFunc: (dy) => tf.zerosLike(dy) }))(x); }
}
exports.register = (r) => r.add({ kind: 'defense', id: 'zero-grad', description: 'masks gradients', schema: { type: 'object', additionalProperties: false, properties: {} }, create: () => new ZeroGrad() });
`,
    );
    writeSyntheticRunConfig(dir, 16, 'synthetic-zero-grad-pgd', { defense: 'zero-grad', batchSize: 8, model: 'zero-grad + small-cnn' });
    const { code, stdout, stderr } = await runCliCaptured([
      '--plugin',
      plug,
      'run',
      path.join(dir, 'run.json'),
      '--out',
      path.join(dir, 'runs'),
      '--entries',
      path.join(dir, 'entries'),
    ]);
    expect(code).to.equal(0);
    expect(stdout).to.match(/STALLED-ATTACK/);
    expect(stdout).to.match(/attack checks/);
    expect(stdout).to.match(/pgd-2 .*STALLED/);
    expect(stderr).to.match(/WARNING: run synthetic-zero-grad-pgd .*overstated/);
    const entry = readEntry(path.join(dir, 'entries', 'synthetic', 'linf-0.1', 'synthetic-zero-grad-pgd.json'));
    expect(entry.flags.stalledAttack).to.equal(true);
    const checks = entry.results.attacks[0].checks!;
    expect(checks.ran).to.be.greaterThan(0);
    expect(checks.gradientVanished).to.equal(checks.ran);
    // The external module is part of the run's provenance.
    expect(entry.provenance.modules!.find((m) => m.name === 'masking-plugin')).to.deep.include({
      version: '1.2.3',
      files: 1,
      serves: ['defense:zero-grad'],
    });
  });

  it("a run started from another repository records dbp-bench's commit, not that repository's", () => {
    const user = tempRepo();
    const model = createClassifier(
      'small-cnn',
      { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [2, 4], hidden: 8, dropout: 0 },
      1,
    );
    saveModel(path.join(user.dir, 'cnn.safetensors'), model);
    model.dispose();
    const config = {
      name: 'from-elsewhere',
      dataset: {
        id: 'synthetic',
        options: { size: 4, numClasses: 4, imageSize: 16, channels: 1, seed: 2 },
        subset: { kind: 'first', n: 2 },
      },
      classifier: { weights: 'cnn.safetensors' },
      attacks: [{ id: 'pgd', options: { steps: 1, eot: { samples: 1 }, eps: 0.1 } }],
      evaluation: { batchSize: 2 },
      leaderboard: { model: 'small-cnn', family: 'none', reducedProtocol: true },
    };
    fs.writeFileSync(path.join(user.dir, 'run.json'), JSON.stringify(config));
    const env: NodeJS.ProcessEnv = { ...process.env, DBP_BACKEND: process.env.DBP_BACKEND ?? 'wasm' };
    delete env.DBP_GIT_COMMIT;
    execFileSync(process.execPath, [CLI, '--log-level', 'silent', 'run', 'run.json', '--entries', 'entries'], {
      cwd: user.dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const entry = readEntry(path.join(user.dir, 'entries', 'synthetic', 'linf-0.1', 'from-elsewhere.json'));
    const head = gitHead(REPO_ROOT);
    expect(entry.provenance.gitCommit).to.match(new RegExp(`^${head}(-dirty)?$`));
    expect(entry.provenance.gitCommit).to.not.contain(user.head);
    expect(entry.provenance.commitSource).to.equal('git');
    expect(entry.provenance.modules!.map((m) => m.name)).to.include.members([
      '@dbp-bench/runner',
      '@dbp-bench/framework',
      '@dbp-bench/datasets',
      '@dbp-bench/attacks',
      '@dbp-bench/models',
      '@dbp-bench/defenses-dbp',
    ]);
    for (const m of entry.provenance.modules!) expect(m.sha256).to.match(/^[0-9a-f]{64}$/);
  });

  it('Ctrl-C: the run stops after the current batch, says what it kept and how to resume; the resumed run completes; a finished run does nothing', async function () {
    this.timeout(600_000);
    const dir = tmp();
    const root = path.resolve(__dirname, '..', '..', '..', '..');
    const c = JSON.parse(fs.readFileSync(path.join(root, 'configs/quickstart/03-dp-ddpm-pgd-eot.json'), 'utf8')) as Record<string, any>;
    c.name = 'sigint-test';
    c.dataset.subset.n = 6;
    c.evaluation.batchSize = 2;
    c.classifier.weights = path.join(root, 'weights/mnist/small-cnn.safetensors');
    c.defense.options.weights = path.join(root, 'weights/mnist/ddpm-mnist.safetensors');
    const cfg = path.join(dir, 'run.json');
    fs.writeFileSync(cfg, JSON.stringify(c));
    const out = path.join(dir, 'runs');
    const args = [CLI, 'run', cfg, '--out', out, '--no-entries'];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = exited(child);
    const journal = await waitFor(
      'the first journaled batch',
      () => {
        const hash = fs.existsSync(out) ? fs.readdirSync(out)[0] : undefined;
        const f = hash ? path.join(out, hash, 'journal.jsonl') : undefined;
        return f && fs.existsSync(f) && fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).length >= 2 ? f : undefined;
      },
      400_000,
    );
    child.kill('SIGINT');
    const r = await ended;
    expect(r.code, r.stderr).to.equal(130);
    const kept = readJournal(journal).records.length;
    expect(kept % 2, 'whole batches only').to.equal(0);
    expect(kept).to.be.within(2, 4);
    expect(r.stderr).to.contain('SIGINT: stopping after the current batch');
    expect(r.stderr).to.contain(`interrupted: ${kept}/6 samples kept in ${journal}; resume with: dbp-bench run ${cfg} --out ${out}`);
    const resumed = await exited(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(readJournal(journal).records).to.have.length(6);
    const again = await exited(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.match(/is complete: 6 samples journaled, entry .*; nothing to do/);
    expect(again.stderr).to.not.match(/resuming|sanity/);
  });

  it('two concurrent `dbp-bench run` processes on one config and --out: the second refuses, naming the holder pid and host', async () => {
    const dir = tmp();
    const cfg = writeSyntheticRunConfig(dir, 8, 'synthetic-lock');
    const out = path.join(dir, 'runs');
    const args = [CLI, '--log-level', 'warn', 'run', cfg, '--out', out, '--no-entries'];
    const first = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const firstDone = exited(first);
    // As soon as the first holds its lock, freeze it (it stays alive), so the second surely overlaps it.
    const lock = await waitFor('the first run to take its lock', () => {
      const hash = fs.existsSync(out) ? fs.readdirSync(out)[0] : undefined;
      const f = hash ? path.join(out, hash, 'lock.json') : undefined;
      return f && fs.existsSync(f) ? f : undefined;
    });
    first.kill('SIGSTOP');
    try {
      const second = await exited(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      expect(second.code).to.equal(1);
      expect(second.stderr).to.contain(`is locked by pid ${first.pid} on host ${os.hostname()}`);
      expect(second.stderr).to.contain(lock);
    } finally {
      first.kill('SIGCONT');
    }
    const done = await firstDone;
    expect(done.code, done.stderr).to.equal(0);
    const runDir = path.dirname(lock);
    expect(fs.existsSync(lock)).to.equal(false);
    const positions = readJournal(path.join(runDir, 'journal.jsonl')).records.map((r) => r.position);
    expect(positions).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(readEntry(path.join(runDir, 'entry.json')).dataset.n).to.equal(8);
  });
  it('--dry-run prints the plan and a measured ETA and writes nothing; validate --eta prints the same plan after its checks', async () => {
    const dir = tmp();
    const cfg = writeSyntheticRunConfig(dir, 6, 'synthetic-dry-run', { batchSize: 4 });
    const before = fs.readdirSync(dir).sort();
    const out = path.join(dir, 'out');
    const r = await runCliCaptured(['run', cfg, '--dry-run', '--probe-rows', '2', '--out', out]);
    expect(r.error, r.stderr).to.equal(undefined);
    expect(r.code ?? 0).to.equal(0);
    // 6 samples, R 1: preflight 2 x 2 forward + 2 gradient; clean 6; pgd-2 6 x 2 steps x EoT 1 = 12; final 6
    expect(r.stdout).to.include('6 samples in 2 batch(es) of 4; R = 1');
    expect(r.stdout).to.include("attack 'pgd-2' (pgd, fresh noise, exact gradient): 1 run(s) x 2 steps x EoT 1 = 12 gradient rows");
    expect(r.stdout).to.include('total: 14 gradient rows (forward+backward), 16 forward rows, 30 forward network calls');
    expect(r.stdout).to.match(/estimated wall time: \S+ on this machine \(/);
    expect(r.stdout).to.include('one forward+backward pass of 2 rows');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(before);
    expect(fs.existsSync(out)).to.equal(false);
    const v = await runCliCaptured(['validate', cfg, '--quiet', '--eta']);
    expect(v.error, v.stderr).to.equal(undefined);
    expect(v.stdout).to.match(/^OK /);
    expect(v.stdout).to.include('total: 14 gradient rows (forward+backward), 16 forward rows');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(before);
    const both = await runCliCaptured(['validate', cfg, '--schema-only', '--eta']);
    expect(String(both.error?.message ?? both.stderr)).to.include('--eta builds the plugins');
  });
});
