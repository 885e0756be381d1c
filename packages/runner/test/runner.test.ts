import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { DataFormatError, Journal, MemoryLogger, SanityCheckError, sha256 } from '@dbp-bench/framework';
import { readEntry, validateEntry } from '@dbp-bench/leaderboard';
import { mergeRun, parseShard, readJournal, resolveShard, runBenchmark, shardBatches, type SampleRecord } from '../src';
import { plugin as attacksPlugin } from '@dbp-bench/attacks';
import { toyConfig, toyDeps, toyRegistry } from './toys';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-runner-'));
}

async function run(config: object, out: string, extra: Partial<Parameters<typeof runBenchmark>[0]> = {}) {
  return runBenchmark({ registry: toyRegistry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null, ...extra });
}

function samples(file: string): SampleRecord[] {
  return readJournal(file).records;
}

describe('runner: shards', () => {
  it('parses i/n and rejects bad specs', () => {
    expect(parseShard('2/4')).to.include({ index: 2, count: 4 });
    expect(() => parseShard('4/4')).to.throw(/shard index/);
    expect(() => parseShard('1-4')).to.throw(/i\/n/);
  });

  it('reads SLURM arrays and Kubernetes indexed jobs from the environment', () => {
    expect(resolveShard(undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' })).to.include({
      index: 2,
      count: 4,
    });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: '1', DBP_SHARD_COUNT: '3' })).to.include({ index: 1, count: 3 });
    expect(resolveShard(undefined, { JOB_COMPLETION_INDEX: '0', JOB_COMPLETIONS: '2' })).to.include({ index: 0, count: 2 });
    expect(() => resolveShard(undefined, { JOB_COMPLETION_INDEX: '1' })).to.throw(/DBP_SHARD_COUNT/);
    expect(resolveShard('1/2', { SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_TASK_COUNT: '4' })).to.include({ index: 1, count: 2 });
    expect(resolveShard(undefined, {})).to.include({ index: 0, count: 1 });
  });

  it('splits batches into contiguous, complete, disjoint ranges', () => {
    for (const [b, n] of [
      [4, 2],
      [5, 3],
      [2, 5],
      [7, 7],
    ]) {
      const covered: number[] = [];
      for (let i = 0; i < n; i++) {
        const r = shardBatches(b, { index: i, count: n });
        for (let k = r.start; k < r.end; k++) covered.push(k);
      }
      expect(covered).to.deep.equal(Array.from({ length: b }, (_, i) => i));
    }
  });
});

describe('runner: benchmark runs on toy plugins', function () {
  this.timeout(120000);

  it('runs clean evaluation and attacks on survivors, writes a valid entry, and leaks no tensors', async () => {
    const out = tmp();
    await run(toyConfig({ n: 3 }), tmp()); // warm-up (kernels, caches)
    const before = tf.memory().numTensors;
    const r = await run(toyConfig(), out, { entriesDir: path.join(out, 'entries') });
    expect(tf.memory().numTensors).to.equal(before);
    expect(r.complete).to.equal(true);
    const recs = samples(r.journal);
    expect(recs.map((x) => x.position)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const x of recs) {
      expect(x.clean.predictions).to.have.length(2);
      expect(x.attacks).to.have.length(2);
      // Attacks run exactly on survivors, and the running robust fraction never increases.
      expect(x.attacks[0].ran).to.equal(x.clean.mean > 0);
      expect(x.attacks[1].ran).to.equal(x.attacks[0].robust > 0);
      expect(x.attacks[0].robust).to.be.at.most(x.clean.mean);
      expect(x.attacks[1].robust).to.be.at.most(x.attacks[0].robust);
      expect(x.robust).to.equal(x.attacks[1].robust);
      if (x.attacks[0].ran) expect(x.attacks[0].distance!.linf).to.be.at.most(0.1 + 1e-6);
    }
    const entry = r.entry!;
    validateEntry(entry);
    expect(entry.dataset.n).to.equal(10);
    expect(entry.threatModel).to.deep.equal({ id: 'linf-0.1', norm: 'linf', eps: { value: 0.1, display: '0.1' } });
    expect(entry.flags.randomized).to.equal(true);
    expect(entry.flags.forwardPasses).to.equal(2 * 3);
    expect(entry.flags.sanity.map((f) => f.id)).to.include('randomized-defense');
    const mean = recs.reduce((a, x) => a + x.robust, 0) / recs.length;
    expect(entry.results.robust!.value).to.be.closeTo(100 * mean, 1e-3);
    expect(entry.results.robust!.value).to.be.at.most(entry.results.clean!.value);
    expect(entry.results.attacks.map((a) => a.name)).to.deep.equal(['pgd-eot', 'dw-both']);
    expect(entry.protocol!.attacks.map((a) => [a.noisePolicy, a.eot])).to.deep.equal([
      ['fresh', 2],
      ['both', 1],
    ]);
    // The entry in the entries directory links a results file with the right hash.
    const file = path.join(out, 'entries', 'toy-data', 'linf-0.1', 'toy-run.json');
    const loaded = readEntry(file);
    const text = fs.readFileSync(path.join(path.dirname(file), loaded.resultsFile!.path), 'utf8');
    expect(sha256(text)).to.equal(loaded.resultsFile!.sha256);
    expect(text.trim().split('\n')).to.have.length(10);
    expect(loaded.provenance.datasetIndicesHash).to.equal(sha256('0,1,2,3,4,5,6,7,8,9').slice(0, 16));
  });

  it('a finished run rerun says it is complete, computes nothing and writes nothing', async () => {
    const out = tmp();
    const first = await run(toyConfig({ n: 4 }), out);
    const files = (): Record<string, number> =>
      Object.fromEntries(
        (fs.readdirSync(first.runDir, { recursive: true }) as string[]).map((f) => [f, fs.statSync(path.join(first.runDir, f)).mtimeMs]),
      );
    const before = files();
    const logger = new MemoryLogger();
    const again = await run(toyConfig({ n: 4 }), out, { logger });
    expect(again.alreadyComplete).to.equal(true);
    expect(again.batchesComputed).to.equal(0);
    expect(again.entry).to.deep.equal(first.entry);
    expect(files()).to.deep.equal(before);
    expect(logger.lines.join('\n')).to.match(/is complete: 4 samples journaled, entry .*entry\.json; nothing to do/);
    expect(logger.lines.join('\n')).to.not.match(/resuming|sanity/);
  });

  it('a stop request (SIGINT in the CLI) ends the run after the current batch, resumably', async () => {
    const out = tmp();
    let batches = 0;
    const stopped = await run(toyConfig({ n: 9, batchSize: 3 }), out, { shouldStop: () => ++batches >= 1 });
    expect(stopped.interrupted).to.equal(true);
    expect(stopped.complete).to.equal(false);
    expect(stopped.samples.done).to.equal(3);
    const resumed = await run(toyConfig({ n: 9, batchSize: 3 }), out);
    expect(resumed.complete).to.equal(true);
    expect(resumed.batchesComputed).to.equal(2);
  });

  it('progress: the overall bar is the run, the nested bar of each attack is labelled with its config name', async () => {
    const registry = toyRegistry().use(attacksPlugin);
    const logger = new MemoryLogger();
    const config = toyConfig({
      n: 4,
      batchSize: 2,
      attacks: [
        { id: 'pgd', name: 'PGD-2+EoT-2', options: { eps: 0.1, steps: 2, eot: { samples: 2 } } },
        { id: 'toy-dw', name: 'dw-both', options: {} },
      ],
    });
    const out = tmp();
    const r = await runBenchmark({ registry, config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null, logger });
    expect(r.complete).to.equal(true);
    const [overall, ...nested] = logger.bars;
    expect(overall).to.deep.equal({ label: 'toy-run', total: 4, done: 4, finished: true });
    // one PGD bar per batch with survivors (the toy attack opens none), two steps each, all finished
    expect(nested.length).to.be.within(1, 2);
    for (const b of nested) expect(b).to.deep.equal({ label: 'PGD-2+EoT-2', total: 2, done: 2, finished: true });
  });

  it('resumes after a kill and ends with exactly the records of an uninterrupted run', async () => {
    const full = await run(toyConfig(), tmp());
    const out = tmp();
    const partial = await run(toyConfig(), out, { stopAfterBatches: 1 });
    expect(partial.complete).to.equal(false);
    expect(samples(partial.journal)).to.have.length(3);
    // A second kill mid-batch: keep one record of the next batch and a torn line.
    const more = await run(toyConfig(), out, { stopAfterBatches: 1 });
    expect(more.batchesComputed).to.equal(1);
    const lines = fs.readFileSync(more.journal, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(more.journal, lines.slice(0, lines.length - 2).join('\n') + '\n' + lines[lines.length - 2].slice(0, 25));
    const done = await run(toyConfig(), out);
    expect(done.complete).to.equal(true);
    expect(done.batchesComputed).to.equal(3);
    expect(fs.readFileSync(done.journal, 'utf8')).to.equal(fs.readFileSync(full.journal, 'utf8'));
    expect(done.entry!.results).to.deep.equal(full.entry!.results);
    const rerun = await run(toyConfig(), out);
    expect(rerun.batchesComputed).to.equal(0);
  });

  it('shards 0/2 and 1/2 merged give the unsharded records, record for record', async () => {
    const full = await run(toyConfig(), tmp());
    const out = tmp();
    const s0 = await run(toyConfig(), out, { shard: parseShard('0/2') });
    expect(s0.entry).to.equal(undefined);
    expect(() => mergeRun([s0.runDir])).to.throw(DataFormatError, /4 of 10 samples have no record/);
    const s1 = await run(toyConfig(), out, { shard: parseShard('1/2') });
    expect(samples(s0.journal).map((r) => r.position)).to.deep.equal([0, 1, 2, 3, 4, 5]);
    const merged = mergeRun([s0.runDir], { out: path.join(out, 'merged', 'entry.json') });
    expect(merged.records).to.deep.equal(samples(full.journal));
    expect(merged.entry.results).to.deep.equal(full.entry!.results);
    expect(merged.entry.resultsFile!.sha256).to.equal(full.entry!.resultsFile!.sha256);
    expect(merged.entry.provenance.shards).to.equal(2);
    expect(merged.entry.provenance.source).to.equal('dbp-bench merge');
    expect(fs.existsSync(path.join(out, 'merged', 'entry.results.jsonl'))).to.equal(true);
    // Journal files named explicitly work too.
    expect(mergeRun([s0.journal, s1.journal]).records).to.deep.equal(merged.records);
  });

  it('refuses a journal of another run and conflicting duplicate records', async () => {
    const out = tmp();
    const a = await run(toyConfig({ n: 4 }), out);
    const b = await run(toyConfig({ n: 4 }), out, { shard: parseShard('0/1') });
    expect(b.journal).to.equal(a.journal);
    // Another config writing into the same run directory's journal name is refused.
    const other = await run(toyConfig({ n: 5 }), out, { stopAfterBatches: 0 });
    fs.copyFileSync(a.journal, other.journal);
    let err: unknown;
    try {
      await run(toyConfig({ n: 5 }), out);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect(String(err)).to.match(/belongs to run/);
    // Two journals of the same run with different (each self-consistent) records for a sample: a
    // sample fooled in both clean draws, with one wrong prediction swapped for the other wrong class.
    const lines = fs.readFileSync(a.journal, 'utf8').split('\n').filter(Boolean);
    const recs = lines.slice(1).map((l) => JSON.parse(l) as SampleRecord);
    const rec = recs.find((r) => r.clean.mean === 0)!;
    expect(rec, 'a toy sample wrong in every clean draw').to.not.equal(undefined);
    rec.clean.predictions[0] = [0, 1, 2].find((c) => c !== rec.label && c !== rec.clean.predictions[0])!;
    const j = new Journal(path.join(a.runDir, 'journal.shard-0-of-2.jsonl'));
    j.append({ ...JSON.parse(lines[0]), shard: { index: 0, count: 2 } });
    j.append(rec);
    j.close();
    expect(() => mergeRun([a.runDir])).to.throw(
      DataFormatError,
      new RegExp(`sample at position ${rec.position} .*differs from its record`),
    );
    // The same sample tampered inconsistently (its robust fraction flipped) is refused by the record checks.
    const bad = JSON.parse(lines[1 + rec.position]) as SampleRecord;
    bad.robust = 1;
    fs.writeFileSync(
      path.join(a.runDir, 'journal.shard-0-of-2.jsonl'),
      JSON.stringify({ ...JSON.parse(lines[0]), shard: { index: 0, count: 2 } }) + '\n' + JSON.stringify(bad) + '\n',
    );
    expect(() => mergeRun([a.runDir])).to.throw(
      DataFormatError,
      new RegExp(`journal.shard-0-of-2.jsonl: sample at position ${rec.position} \\(dataset index ${rec.index}\\) robust fraction 1, but`),
    );
  });
});

describe('runner: sanity checks', function () {
  this.timeout(60000);

  it('requires EoT or a DW-box policy on a randomized defense, naming the attack', async () => {
    let err: unknown;
    try {
      await run(toyConfig({ attacks: [{ id: 'toy-pgd', name: 'plain-pgd', options: {} }] }), tmp());
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SanityCheckError);
    expect((err as SanityCheckError).flag).to.equal('randomized-defense');
    expect(String(err)).to.match(/plain-pgd/);
    // the failed run leaves no directory behind
    const out = path.join(tmp(), 'fresh-out');
    await run(toyConfig({ attacks: [{ id: 'toy-pgd', name: 'plain-pgd', options: {} }] }), out).catch(() => undefined);
    expect(fs.existsSync(out), fs.existsSync(out) ? fs.readdirSync(out, { recursive: true }).join(', ') : '').to.equal(false);
    // The same attack on a deterministic defense is fine.
    const ok = await run(toyConfig({ defense: 'identity', R: 1, attacks: [{ id: 'toy-pgd', name: 'plain-pgd', options: {} }] }), tmp());
    expect(ok.entry!.flags.randomized).to.equal(false);
    expect(ok.entry!.flags.sanity).to.deep.equal([]);
  });

  it('throws when an attack exceeds its budget', async () => {
    let err: unknown;
    try {
      await run(toyConfig({ defense: 'identity', R: 1, attacks: [{ id: 'toy-cheat', name: 'cheater', options: { steps: 4 } }] }), tmp());
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(SanityCheckError);
    expect((err as SanityCheckError).flag).to.equal('budget-exceeded');
    expect(String(err)).to.match(/cheater/);
  });

  it('flags zero gradients (masked by a rounding defense) and marks the entry unreliable', async () => {
    const r = await run(toyConfig({ defense: 'toy-round', R: 1, attacks: [{ id: 'toy-pgd', name: 'pgd', options: {} }] }), tmp());
    const flag = r.entry!.flags.sanity.find((f) => f.id === 'zero-gradient');
    expect(flag?.attack).to.equal('pgd');
    expect(r.entry!.flags.unreliable).to.equal(true);
  });

  it('rejects attacks with different threat models in one run', async () => {
    let err: unknown;
    try {
      await run(
        toyConfig({
          defense: 'identity',
          attacks: [
            { id: 'toy-pgd', name: 'a', options: { eot: { samples: 2 } } },
            { id: 'toy-dw', name: 'b', options: { eps: 0.2 } },
          ],
        }),
        tmp(),
      );
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/different threat models/);
  });
});
