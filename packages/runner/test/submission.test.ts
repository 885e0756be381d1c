/**
 * checkEntryResults on entries the runner writes (a randomized toy defense, R = 2, two attacks; an
 * unsharded run and two merged shards) and on edits of them that each of its checks must catch.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256 } from '@dbp-bench/framework';
import { readEntry, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { checkEntryResults, mergeRun, parseShard, runBenchmark, type SampleRecord } from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-submission-'));
}

async function run(out: string, extra: Partial<Parameters<typeof runBenchmark>[0]> = {}) {
  return runBenchmark({ registry: toyRegistry(), config: toyConfig(), baseDir: out, outDir: out, deps: toyDeps(), ...extra });
}

/** The entry file and results file of a run into `<out>/entries`, copied to a fresh tree. */
function copy(entryFile: string): { file: string; results: string; root: string } {
  const root = path.join(tmp(), 'entries');
  const rel = path.relative(path.dirname(path.dirname(path.dirname(entryFile))), entryFile);
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(entryFile, file);
  const e = readEntry(file);
  fs.copyFileSync(path.join(path.dirname(entryFile), e.resultsFile!.path), path.join(path.dirname(file), e.resultsFile!.path));
  return { file, results: path.join(path.dirname(file), e.resultsFile!.path), root };
}

const records = (file: string): SampleRecord[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SampleRecord);
const text = (rs: readonly SampleRecord[]): string => rs.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** Rewrite the results file and the entry's sha256 for it (a consistent-looking edit). */
function rewrite(c: { file: string; results: string }, rs: readonly SampleRecord[], edit: (e: LeaderboardEntry) => void = () => {}): void {
  const t = text(rs);
  fs.writeFileSync(c.results, t);
  const e = JSON.parse(fs.readFileSync(c.file, 'utf8')) as LeaderboardEntry;
  e.resultsFile!.sha256 = sha256(t);
  edit(e);
  fs.writeFileSync(c.file, JSON.stringify(e, null, 2));
}

const check = (c: { file: string; root: string }) => checkEntryResults(c.file, readEntry(c.file), c.root);

describe('runner: checkEntryResults (a submitted entry against its per-sample results)', function () {
  this.timeout(120000);
  let entryFile: string;

  before(async () => {
    const out = tmp();
    fs.writeFileSync(path.join(out, 'toy.safetensors'), '');
    const r = await run(out, { entriesDir: path.join(out, 'entries') });
    entryFile = r.entryFile!;
    expect(r.entry!.protocol!.purifications).to.equal(2);
    expect(r.entry!.results.attacks).to.have.length(2);
  });

  it('passes what run writes, and what merge writes from two shards', async () => {
    const c = copy(entryFile);
    expect(check(c)).to.deep.equal({ status: 'checked', problems: [], resultsFile: fs.realpathSync(c.results), records: 10 });
    const out = tmp();
    fs.writeFileSync(path.join(out, 'toy.safetensors'), '');
    const s0 = await run(out, { shard: parseShard('0/2'), entriesDir: null });
    await run(out, { shard: parseShard('1/2'), entriesDir: null });
    const merged = mergeRun([s0.runDir], { out: path.join(out, 'merged', 'toy.json') });
    expect(checkEntryResults(merged.entryFile, merged.entry).problems).to.deep.equal([]);
  });

  it('names the record that breaks the run rules (its correct attack draws flipped to wrong)', () => {
    const c = copy(entryFile);
    const rs = records(c.results);
    const k = rs.findIndex((r) => r.attacks[0].eval?.predictions.includes(r.label));
    expect(k).to.be.at.least(0);
    const ev = rs[k].attacks[0].eval!;
    ev.predictions = ev.predictions.map((p) => (p === rs[k].label ? (p + 1) % 3 : p));
    rewrite(c, rs);
    const res = check(c);
    expect(res.problems).to.have.length(1);
    expect(res.problems[0]).to.match(
      new RegExp(
        `^${c.results.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line ${k + 1} \\(position ${k}, dataset index ${rs[k].index}\\) attack 'pgd-eot' eval\\.mean is`,
      ),
    );
  });

  it('refuses records of another subset (a dataset index changed) by the subset hash', () => {
    const c = copy(entryFile);
    const rs = records(c.results);
    rs[0].index = 15;
    rewrite(c, rs);
    const res = check(c);
    expect(res.problems).to.deep.equal([
      `${c.file}: $.dataset.indicesHash: the entry says "${readEntry(c.file).dataset.indicesHash}", the dataset indices of ${c.results} hash to ${toyDeps().subsetHash([15, ...rs.slice(1).map((r) => r.index)])}`,
    ]);
  });

  it('refuses records out of order, a wrong stalled-attack flag, a measured entry without results file', () => {
    const c = copy(entryFile);
    const rs = records(c.results);
    rewrite(c, [rs[1], rs[0], ...rs.slice(2)]);
    expect(check(c).problems[0]).to.equal(
      `${c.results}: line 1 has position 1, expected 0 (one record per position of the subset, in order)`,
    );

    const d = copy(entryFile);
    const e = readEntry(d.file);
    expect(e.flags.stalledAttack).to.equal(false);
    rewrite(d, records(d.results), (x) => {
      x.flags.stalledAttack = true;
      x.flags.unreliable = true;
    });
    expect(check(d).problems).to.deep.equal([
      `${d.file}: $.flags.stalledAttack: the entry says true, the records give false (re-computed from ${d.results})`,
    ]);

    const none = { ...readEntry(entryFile), resultsFile: null };
    expect(checkEntryResults(entryFile, none).problems[0]).to.match(
      /\$\.resultsFile: a measured entry comes with its per-sample results file/,
    );
    const reported = { ...readEntry(entryFile), kind: 'reported' as const };
    expect(checkEntryResults(entryFile, reported)).to.deep.equal({ status: 'reported', problems: [] });
  });
});
