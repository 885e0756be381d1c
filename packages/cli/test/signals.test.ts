/**
 * Ctrl-C / SIGTERM in `dbp-bench purify` and `dbp-bench analyze` (the built bin in a child process):
 * the first signal finishes the current unit, keeps what is done, prints it and the command that
 * continues, and exits 130; the continuation completes the work; a finished analysis rerun writes
 * nothing. (`run` and `quickstart`: run-command.test.ts.)
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { rerunCommand } from '../src/signals';

const CLI = path.resolve(__dirname, '..', '..', 'bin', 'dbp-bench.js');
const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const WEIGHTS = path.join(ROOT, 'weights', 'mnist');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-signals-'));
}

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Start the CLI with progress lines after every unit (so the test sees the work advance). */
function start(args: string[], cwd: string): { child: ChildProcess; ended: Promise<Ended>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, CI: '', DBP_PROGRESS_INTERVAL: '0.001' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const ended = new Promise<Ended>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, ended, stderr: () => stderr };
}

async function waitFor(what: string, f: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Run a printed `dbp-bench ...` command line (unquoted words) with the built bin. */
function runPrinted(line: string, cwd: string): Promise<Ended> {
  const words = line.trim().split(/\s+/);
  expect(words[0]).to.equal('dbp-bench');
  return start(words.slice(1), cwd).ended;
}

describe('cli: Ctrl-C in purify and analyze', function () {
  this.timeout(300_000);

  it('rerunCommand: the same words with the given long options replaced (either spelling), quoted for a shell', () => {
    const args = ['--log-level', 'warn', 'purify', '--n=8', '--start', '0', '--out', 'a grid.png', '--set', "k='x'"];
    expect(rerunCommand(args)).to.equal(`dbp-bench --log-level warn purify --n=8 --start 0 --out 'a grid.png' --set 'k='\\''x'\\'''`);
    expect(rerunCommand(args, { '--start': '4', '--n': '4', '--out': 'rest.png' })).to.equal(
      `dbp-bench --log-level warn purify --set 'k='\\''x'\\''' --start 4 --n 4 --out rest.png`,
    );
  });

  it('purify: the current image batch finishes, the grid of the images done is written, the printed command purifies the others', async () => {
    const dir = tmp();
    const common = ['--defense', 'dp-ddpm', '--weights', path.join(WEIGHTS, 'ddpm-mnist.safetensors'), '--set', 'numInferenceSteps=100'];
    const p = start(['purify', ...common, '--data', 'mnist', '--n', '4', '--batch', '1', '--out', 'grid.png'], dir);
    await waitFor('the first purified image', () => /purify dp-ddpm: 1\/4/.test(p.stderr()));
    p.child.kill('SIGINT');
    const r = await p.ended;
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr).to.contain('SIGINT: stopping after the current image batch');
    const m = /interrupted: (\d)\/4 images purified, their grid written to (\S+); the other (\d): (.*)$/m.exec(r.stderr);
    expect(m, r.stderr).to.not.equal(null);
    const kept = Number(m![1]);
    expect(kept).to.be.within(2, 3);
    expect(Number(m![3])).to.equal(4 - kept);
    expect(m![2]).to.equal(path.join(fs.realpathSync(dir), 'grid.png'));
    expect(r.stdout).to.contain(`${kept} mnist test images 0..${kept - 1}`);
    // a complete PNG: two rows, `kept` columns (the width grows with the columns)
    const width = (f: string): number => {
      const b = fs.readFileSync(f);
      expect(b.subarray(1, 4).toString()).to.equal('PNG');
      return b.readUInt32BE(16); // IHDR width
    };
    expect(m![4]).to.contain(`--start ${kept} --n ${4 - kept} --out grid-from-${kept}.png`);
    const rest = await runPrinted(m![4], dir);
    expect(rest.code, rest.stderr).to.equal(0);
    expect(rest.stdout).to.contain(`${4 - kept} mnist test images ${kept}..3`);
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['grid-from-' + kept + '.png', 'grid.png'].sort());
    expect(width(path.join(dir, 'grid.png'))).to.be.above(0);
    if (kept !== 4 - kept) expect(width(path.join(dir, 'grid.png'))).to.not.equal(width(path.join(dir, `grid-from-${kept}.png`)));
  });

  it('analyze trajectories: the finished runs are kept and resumed to the uninterrupted report; a rerun writes nothing; --force and other inputs recompute', async () => {
    const dir = tmp();
    const base = [
      'analyze',
      'trajectories',
      '--defense',
      'identity',
      '--classifier',
      path.join(WEIGHTS, 'small-cnn.safetensors'),
      '--data',
      'mnist',
    ];
    const small = [...base, '--runs', '3', '--steps', '6', '--eot', '4', '--loss-draws', '2'];
    const p = start([...small, '--out', 'a'], dir);
    await waitFor('the first attack run', () => /trajectories: 1\/7/.test(p.stderr()));
    p.child.kill('SIGINT');
    const r = await p.ended;
    expect(r.code, r.stderr).to.equal(130);
    expect(r.stderr).to.contain('SIGINT: stopping after the current attack run, keeping the finished runs');
    const m = /interrupted after (\d)\/7 attack runs: the finished attack runs are kept in (\S+); resume with: (.*)$/m.exec(r.stderr);
    expect(m, r.stderr).to.not.equal(null);
    expect(Number(m![1])).to.be.within(1, 6);
    const partial = path.join(fs.realpathSync(dir), 'a', 'trajectories.partial.safetensors');
    expect(m![2]).to.equal(partial);
    expect(fs.readdirSync(path.join(dir, 'a'))).to.deep.equal(['trajectories.partial.safetensors']);
    const resumed = await runPrinted(m![3], dir);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stderr).to.contain(`resuming from ${partial}: ${m![1]} attack runs done`);
    expect(fs.readdirSync(path.join(dir, 'a')).sort()).to.deep.equal(['trajectories.json', 'trajectories.svg']);
    // the same analysis uninterrupted, elsewhere: the same report (its inputs name the same files)
    const whole = await start([...small, '--out', 'b'], dir).ended;
    expect(whole.code, whole.stderr).to.equal(0);
    const read = (d: string): string => fs.readFileSync(path.join(dir, d, 'trajectories.json'), 'utf8');
    expect(read('a')).to.equal(read('b'));
    expect(fs.readFileSync(path.join(dir, 'a', 'trajectories.svg'), 'utf8')).to.equal(
      fs.readFileSync(path.join(dir, 'b', 'trajectories.svg'), 'utf8'),
    );
    // rerun: complete, nothing written
    const mtime = (): number => fs.statSync(path.join(dir, 'a', 'trajectories.json')).mtimeMs;
    const t0 = mtime();
    const again = await start([...small, '--out', 'a'], dir).ended;
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.contain('the trajectories analysis is complete (made with these inputs); nothing to do (--force recomputes)');
    expect(again.stderr).to.not.contain('progress: trajectories');
    expect(mtime()).to.equal(t0);
    // --force recomputes; other inputs (a seed) recompute too
    const forced = await start([...small, '--out', 'a', '--force'], dir).ended;
    expect(forced.code, forced.stderr).to.equal(0);
    expect(forced.stderr).to.contain('progress: trajectories: 7/7 (100%) done');
    expect(mtime()).to.be.above(t0);
    const seeded = await start([...small, '--seed', '1', '--out', 'a'], dir).ended;
    expect(seeded.code, seeded.stderr).to.equal(0);
    expect((JSON.parse(read('a')) as { inputs: { protocol: { seed: number } } }).inputs.protocol.seed).to.equal(1);
  });
});
