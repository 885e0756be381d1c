/**
 * One writer per run shard (a lock naming the holder's pid and host, recovered after a crash) and
 * records checked before aggregation: duplicated journal lines are counted once (or refused when they
 * disagree), a tampered record is refused by finalisation and by merge, naming the sample. Two
 * processes of the built CLI on one shard: packages/cli/test/run-command.test.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataFormatError, LockHeldError, MemoryLogger, hostTag, rejection } from '@dbp-bench/framework';
import {
  checkRecords,
  lockFile,
  mergeRun,
  parseShard,
  readJournal,
  recordProblems,
  recordRules,
  readRunInfo,
  runBenchmark,
  type SampleRecord,
} from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-lock-'));
}

async function run(config: object, out: string, extra: Partial<Parameters<typeof runBenchmark>[0]> = {}) {
  return runBenchmark({ registry: toyRegistry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null, ...extra });
}

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' }).pid!;
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe('runner: one writer per run shard (lock)', function () {
  this.timeout(120000);

  it('refuses a second run of the same shard in one process, but lets another shard run; merge takes the run lock', async () => {
    const out = tmp();
    const a = runBenchmark({ registry: toyRegistry(), config: toyConfig(), baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null });
    const err = await rejection(run(toyConfig(), out));
    expect(err).to.be.instanceOf(LockHeldError);
    expect(err.message).to.match(new RegExp(`^run [0-9a-f]+ shard 0/1 \\(.*\\) is locked by pid ${process.pid} on host `));
    const other = await run(toyConfig(), out, { shard: parseShard('1/2') });
    expect(other.complete).to.equal(true);
    const first = await a;
    expect(fs.readdirSync(first.runDir).filter((f) => f.startsWith('lock'))).to.deep.equal([]);
    // merge writes the run directory's entry: it is refused while an unsharded run holds lock.json
    fs.writeFileSync(
      lockFile(first.runDir, { index: 0, count: 1 }),
      JSON.stringify({ pid: process.pid, host: 'node-b', started: new Date().toISOString(), command: 'dbp-bench run', token: 'ab' }),
    );
    expect(() => mergeRun([first.journal])).to.throw(LockHeldError, /locked by pid \d+ on host node-b/);
  });

  it('recovers the stale lock of a killed run (dead pid on this host) and completes it', async () => {
    const out = tmp();
    const partial = await run(toyConfig(), out, { stopAfterBatches: 1 });
    const lock = lockFile(partial.runDir, { index: 0, count: 1 });
    const dead = deadPid();
    fs.writeFileSync(
      lock,
      JSON.stringify({ pid: dead, host: os.hostname(), started: '2024-01-01T00:00:00.000Z', command: 'dbp-bench run', token: '00' }),
    );
    // and a temporary of the killed process's finalisation
    const stale = path.join(partial.runDir, `results.jsonl.tmp-${dead}-${hostTag()}-deadbeef`);
    fs.writeFileSync(stale, '{"type":"sam');
    const logger = new MemoryLogger();
    const done = await run(toyConfig(), out, { logger });
    expect(done.complete).to.equal(true);
    expect(logger.lines.join('\n')).to.contain(`took over the lock of a process that is gone (pid ${dead} on host ${os.hostname()}`);
    expect(fs.existsSync(lock)).to.equal(false);
    expect(fs.existsSync(stale)).to.equal(false);
  });
});

describe('runner: records are deduplicated and checked before aggregation', function () {
  this.timeout(120000);

  it('counts identical duplicated journal lines once (n = subset size, not twice)', async () => {
    const out = tmp();
    const full = await run(toyConfig(), out);
    const text = fs.readFileSync(full.journal, 'utf8');
    // a second writer appended every sample again (what two unlocked processes did)
    fs.appendFileSync(full.journal, lines(full.journal).slice(1).join('\n') + '\n');
    const again = await run(toyConfig(), out);
    expect(again.entry!.dataset.n).to.equal(10);
    expect(again.entry!.results).to.deep.equal(full.entry!.results);
    expect(lines(path.join(again.runDir, 'results.jsonl'))).to.have.length(10);
    expect(text.length).to.be.below(fs.statSync(full.journal).size);
  });

  it('refuses two different records for one position, naming it', async () => {
    const out = tmp();
    const full = await run(toyConfig(), out);
    const recs = readJournal(full.journal).records;
    const rec = recs.find((r) => r.clean.mean === 0)!;
    rec.clean.predictions[0] = [0, 1, 2].find((c) => c !== rec.label && c !== rec.clean.predictions[0])!;
    fs.appendFileSync(full.journal, JSON.stringify(rec) + '\n');
    const err = await rejection(run(toyConfig(), out));
    expect(err).to.be.instanceOf(DataFormatError);
    expect(err.message).to.contain(
      `journal.jsonl: sample at position ${rec.position} (dataset index ${rec.index}) is journaled twice with different contents`,
    );
  });

  it('a tampered record (clean mean edited: 56.25% instead of 50%) is refused by finalisation and by merge, naming the sample', async () => {
    const out = tmp();
    const full = await run(toyConfig({ n: 8, R: 2, batchSize: 4 }), out);
    const all = lines(full.journal);
    const k = 1 + readJournal(full.journal).records.findIndex((r) => r.clean.mean === 0.5 && r.attacks[0].ran);
    expect(k, 'a sample with one of two clean draws correct').to.be.greaterThan(0);
    const rec = JSON.parse(all[k]) as SampleRecord;
    rec.clean.mean = 1; // the accuracy goes up by 1/16 = 6.25 points
    all[k] = JSON.stringify(rec);
    fs.writeFileSync(full.journal, all.join('\n') + '\n');
    const expected = `sample at position ${rec.position} (dataset index ${rec.index}) clean.mean is 1, its predictions ${JSON.stringify(rec.clean.predictions)} give 0.5 for label ${rec.label}`;
    const err = await rejection(run(toyConfig({ n: 8, R: 2, batchSize: 4 }), out));
    expect(err).to.be.instanceOf(DataFormatError);
    expect(err.message).to.contain(`${full.journal}: ${expected}`);
    expect(() => mergeRun([full.runDir])).to.throw(DataFormatError, expected);
  });

  it('recordProblems: each rule of the run, hand-made cases', async () => {
    const out = tmp();
    const full = await run(toyConfig({ n: 6 }), out);
    const rules = recordRules(readRunInfo(full.runDir), { index: 0, count: 1 });
    const recs = readJournal(full.journal).records;
    for (const r of recs) expect(recordProblems(r, rules)).to.deep.equal([]);
    const survivor = recs.find((r) => r.attacks[0].ran && r.attacks[0].robust > 0)!;
    const fooled = recs.find((r) => r.clean.mean === 0)!;
    expect(Boolean(survivor && fooled), 'toy data has both kinds').to.equal(true);
    const edit = (r: SampleRecord, f: (x: SampleRecord) => void): string[] => {
      const x = JSON.parse(JSON.stringify(r)) as SampleRecord;
      f(x);
      return recordProblems(x, rules);
    };
    expect(edit(survivor, (x) => (x.position = 6))).to.deep.equal(["position 6 is outside this journal's plan (positions 0..5)"]);
    expect(edit(survivor, (x) => (x.index = 99))[0]).to.match(/dataset index 99, the run's subset has index/);
    expect(edit(survivor, (x) => x.clean.predictions.push(0))[0]).to.match(/clean has 3 predictions, the run draws R = 2/);
    expect(edit(survivor, (x) => (x.attacks[0].ran = false))[0]).to.match(/attack 'pgd-eot' did not run although the sample survived/);
    expect(edit(fooled, (x) => (x.attacks[0].ran = true))[0]).to.match(/attack 'pgd-eot' ran on a sample already fooled/);
    expect(edit(survivor, (x) => (x.attacks[0].robust = x.attacks[0].robust + 0.5))[0]).to.match(
      /attack 'pgd-eot': robust fraction .*expected .* \(min of the previous/,
    );
    expect(edit(survivor, (x) => (x.attacks[0].distance!.linf = 0.2)).join()).to.match(
      /attack 'pgd-eot': \|\|delta\|\|_inf = 0.2 exceeds the budget eps = 0.1/,
    );
    expect(edit(fooled, (x) => (x.robust = 0.5)).join()).to.match(
      /robust fraction 0.5, but the running fraction after the last attack is 0.*counted robust \(0.5\) above its clean accuracy \(0\)/,
    );
    expect(edit(survivor, (x) => (x.attacks[1].name = 'apgd'))[0]).to.match(
      /attacks\[1\] is named "apgd", the run's attack 1 is 'dw-both'/,
    );
    // checks are consistent with distance and robust fraction
    expect(edit(survivor, (x) => (x.attacks[0].checks!.belowBudget = !x.attacks[0].checks!.belowBudget))[0]).to.match(
      /checks.belowBudget is (true|false), its distance and robust fraction give/,
    );
    // shard plan: shard 1/2 of 6 samples in batches of 3 holds positions 3..5
    expect(recordRules(readRunInfo(full.runDir), { index: 1, count: 2 }).range).to.deep.equal({ start: 3, end: 6 });
    expect(checkRecords([...recs, recs[0]], rules, 'j').duplicates).to.equal(1);
  });
});
