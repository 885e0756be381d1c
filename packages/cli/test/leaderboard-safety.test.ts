import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, sha256 } from '@dbp-bench/framework';
import type { LeaderboardEntry } from '@dbp-bench/leaderboard';
import { runCliCaptured } from '../src/testing';

const BIN = path.resolve(__dirname, '../../bin/dbp-bench.js');
const HELPERS = path.resolve(__dirname, '../../../../leaderboard/dist/test/helpers.js');

function tmp(prefix = 'dbp-cli-safety-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A measured entry (the leaderboard tests' hand-made one) written raw, without validation. */
function rawEntry(dir: string, over: (e: LeaderboardEntry) => void): string {
  const { measuredEntry } = require(HELPERS) as { measuredEntry: (o?: { id?: string }) => LeaderboardEntry };
  const e = measuredEntry({ id: 'probe' });
  over(e);
  const file = path.join(dir, 'cifar10', 'linf-8_255', 'probe.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(e, null, 2));
  return file;
}

/** `dbp-bench ...` as a separate process: its real exit code and output. */
function bin(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--log-level', 'warn', ...args], { encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under `dir` with its content. */
function contents(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      if (fs.lstatSync(p).isDirectory()) walk(p);
      else out.push(fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('cli: the leaderboard publishes only what it should', function () {
  this.timeout(120000);

  it('`leaderboard build` exits non-zero, naming the entry file and field, for /etc/passwd as results file', () => {
    const entries = tmp();
    const file = rawEntry(entries, (e) => (e.resultsFile = { path: '/etc/passwd', sha256: 'a'.repeat(64), records: 1 }));
    const site = path.join(tmp(), 'site');
    const r = bin('leaderboard', 'build', entries, '--out', site);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include(file).and.include('$.resultsFile.path');
    expect(contents(site).join('\n')).to.not.include('root:');
  });

  it('`leaderboard build` exits non-zero for a results file that is a symbolic link out of the entries tree', () => {
    const entries = tmp();
    const secret = path.join(tmp(), 'secret.jsonl');
    fs.writeFileSync(secret, 'SECRET-CONTENT\n');
    const file = rawEntry(
      entries,
      (e) => (e.resultsFile = { path: 'probe.results.jsonl', sha256: sha256('SECRET-CONTENT\n'), records: 1 }),
    );
    fs.symlinkSync(secret, path.join(path.dirname(file), 'probe.results.jsonl'));
    // The entry itself passes the schema; validate refuses its results file by the rule build applies.
    const v = bin('leaderboard', 'validate', entries);
    expect(v.status).to.equal(1);
    expect(v.stderr)
      .to.include(file)
      .and.include('$.resultsFile.path')
      .and.match(/symbolic link/);
    expect(v.stderr).to.not.include('SECRET-CONTENT');
    const site = path.join(tmp(), 'site');
    const r = bin('leaderboard', 'build', entries, '--out', site);
    expect(r.status).to.equal(1);
    expect(r.stderr)
      .to.include(file)
      .and.include('$.resultsFile.path')
      .and.match(/symbolic link/);
    expect(contents(site).join('\n')).to.not.include('SECRET-CONTENT');
  });

  it('`leaderboard validate` refuses a javascript: URL written java<TAB>script:, naming the field', async () => {
    const entries = tmp();
    const file = rawEntry(entries, (e) => (e.values.measured = { robust: 10, source: 'x', url: 'java\tscript:alert(1)' }));
    const r = await runCliCaptured(['leaderboard', 'validate', file]);
    expect(r.error).to.be.instanceOf(ConfigValidationError);
    expect(String(r.error)).to.include(file).and.include('$.values.measured.url');
  });
});
