/**
 * The runner through the CLI with the real built-in plugins: synthetic data, a small-cnn classifier
 * saved with @dbp-bench/models, the identity defense and a 2-step PGD; unsharded vs two shards merged.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEntry } from '@dbp-bench/leaderboard';
import { runCliCaptured, writeSyntheticRunConfig } from '../src/testing';

async function cli(...args: string[]): Promise<string> {
  const r = await runCliCaptured(args);
  if (r.error) throw r.error;
  expect(r.code).to.equal(0);
  return r.stdout;
}

describe('cli: run and merge with the built-in plugins', function () {
  this.timeout(120000);

  it('an unsharded run and two merged shards give the same entry and per-sample results', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-int-'));
    writeSyntheticRunConfig(dir, 6, 'synthetic-identity-pgd');
    expect(await cli('validate', '--quiet', path.join(dir, 'run.json'))).to.match(/^OK/);
    const full = await cli('run', path.join(dir, 'run.json'), '--out', path.join(dir, 'a'), '--entries', path.join(dir, 'entries'));
    expect(full).to.match(/small-cnn \(untrained\)/);
    const entryFile = path.join(dir, 'entries', 'synthetic', 'linf-0.1', 'synthetic-identity-pgd.json');
    const entry = readEntry(entryFile);
    expect(entry.dataset.n).to.equal(6);
    expect(entry.classifier.architecture).to.equal('small-cnn');
    expect(entry.flags.randomized).to.equal(false);
    expect(entry.results.robust!.value).to.be.at.most(entry.results.clean!.value);
    expect(await cli('run', path.join(dir, 'run.json'), '--out', path.join(dir, 'b'), '--shard', '1/2', '--no-entries')).to.match(
      /shard 1\/2: 4\/4 samples/,
    );
    expect(await cli('run', path.join(dir, 'run.json'), '--out', path.join(dir, 'b'), '--shard', '0/2', '--no-entries')).to.match(
      /shard 0\/2: 2\/2 samples/,
    );
    const runDir = path.join(dir, 'b', entry.provenance.runHash!);
    await cli('merge', runDir, '--out', path.join(dir, 'merged.json'));
    const merged = readEntry(path.join(dir, 'merged.json'));
    expect(merged.results).to.deep.equal(entry.results);
    expect(merged.resultsFile!.sha256).to.equal(entry.resultsFile!.sha256);
    expect(fs.readFileSync(path.join(dir, 'merged.results.jsonl'), 'utf8')).to.equal(
      fs.readFileSync(path.join(dir, 'entries', 'synthetic', 'linf-0.1', entry.resultsFile!.path), 'utf8'),
    );
  });
});
