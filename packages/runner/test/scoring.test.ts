/**
 * The randomized scoring protocol (records.ts, execute.ts; ALGORITHMS.md §14.4): single draw, Avg.Rob,
 * Wor.Rob, majority and the per-draw histogram after each attack, and the any-iteration counts and
 * robustness curve from the iterates an attack reports. Checked against hand-computed values on
 * hand-made records, on the step-hook collector, and end to end with the real `pgd` attack.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { plugin as attacksPlugin, type StepInfo } from '@dbp-bench/attacks';
import { validateEntry } from '@dbp-bench/leaderboard';
import {
  IterateCollector,
  aggregate,
  drawRecord,
  readJournal,
  recordProblems,
  runBenchmark,
  type AttackRecord,
  type IterateRecord,
  type SampleRecord,
} from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

/** The config with `evaluation.inLoopDraws` set (unchanged when undefined). */
function withInLoop(config: object, inLoopDraws: number | undefined): object {
  if (inLoopDraws === undefined) return config;
  const c = config as { evaluation: object };
  return { ...c, evaluation: { ...c.evaluation, inLoopDraws } };
}

/** A sample record of one attack, label 1, with the any-iteration state given by hand. */
function rec(
  position: number,
  clean: number[],
  attack: { eval: number[]; iterates: IterateRecord; any: [number, boolean, boolean] } | null,
  prevAny: [number, boolean, boolean] = [0, false, false],
): SampleRecord {
  const c = drawRecord(1, clean);
  let a: AttackRecord;
  if (attack) {
    const e = drawRecord(1, attack.eval);
    a = {
      name: 'a',
      ran: true,
      eval: e,
      distance: { linf: 0.1, l2: 0.2 },
      robust: Math.min(c.mean, e.mean),
      robustWorst: c.worst && e.worst,
      robustMajority: c.majority && e.majority,
      iterates: attack.iterates,
      anyRobust: attack.any[0],
      anyWorst: attack.any[1],
      anyMajority: attack.any[2],
    };
  } else {
    a = {
      name: 'a',
      ran: false,
      robust: c.mean,
      robustWorst: c.worst,
      robustMajority: c.majority,
      anyRobust: prevAny[0],
      anyWorst: prevAny[1],
      anyMajority: prevAny[2],
    };
  }
  return { type: 'sample', position, index: position, label: 1, clean: c, attacks: [a], robust: a.robust };
}

const it3 = (correct: number[], majority: boolean[]): IterateRecord => ({
  draws: 2,
  iteration: correct.map((_, i) => i),
  correct,
  majority,
});

/** Four samples, R = 3, one attack whose EoT-2 iterates are given (worked out in the comments). */
function handMade(): SampleRecord[] {
  return [
    // clean all correct; iterates 2/2, 1/2 (a tie: no plurality), 2/2; final [1,1,0]: after-attack 2/3, any 1/2
    rec(0, [1, 1, 1], { eval: [1, 1, 0], iterates: it3([2, 1, 2], [true, false, true]), any: [0.5, false, false] }),
    // clean 2/3; iterates all correct; final all correct: after-attack 2/3 (running min), any 2/3, majority throughout
    rec(1, [1, 0, 1], { eval: [1, 1, 1], iterates: it3([2, 2, 2], [true, true, true]), any: [2 / 3, false, true] }),
    // clean all wrong: the attack does not run
    rec(2, [0, 0, 2], null),
    // two iterates only (2/2, 0/2), final all wrong
    rec(3, [1, 1, 1], {
      eval: [0, 0, 0],
      iterates: { draws: 2, iteration: [0, 1], correct: [2, 0], majority: [true, false] },
      any: [0, false, false],
    }),
  ];
}

describe('runner: randomized scoring', function () {
  this.timeout(120_000);

  it('aggregates single draw, Avg.Rob, Wor.Rob, majority, histograms, any-iteration counts and the curve as computed by hand', () => {
    const records = handMade();
    const rules = { indices: [0, 1, 2, 3], range: { start: 0, end: 4 }, R: 3, attacks: [{ name: 'a', norm: 'linf' as const, eps: 0.1 }] };
    for (const r of records) expect(recordProblems(r, rules), `record ${r.position}`).to.deep.equal([]);
    const agg = aggregate(records, [{ name: 'a', id: 'pgd', norm: 'linf' }]);
    expect(agg.draws).to.equal(3);
    expect(agg.clean.value).to.equal(66.6667); // (1 + 2/3 + 0 + 1) / 4
    expect(agg.cleanSingle.value).to.equal(75); // first draws 1, 1, 0, 1
    expect(agg.cleanMajority.value).to.equal(75);
    expect(agg.cleanWorstOfR.value).to.equal(50);
    expect(agg.cleanHistogram).to.deep.equal({ draws: 3, counts: [1, 0, 1, 2] });
    const a = agg.attacks[0];
    expect(a.accuracy.value).to.equal(33.3333); // (2/3 + 2/3 + 0 + 0) / 4
    expect(a.worstOfR!.value).to.equal(0);
    expect(a.majorityOfR!.value).to.equal(50);
    expect(a.single!.value).to.equal(50); // samples 0 and 1: first draw correct clean and after the attack
    expect(a.histogram).to.deep.equal({ draws: 3, counts: [1, 0, 1, 1] }); // over the 3 attacked: 2, 3, 0 correct
    expect(a.attacked).to.equal(3);
    expect(a.anyIteration!.source).to.equal('eot');
    expect(a.anyIteration!.draws).to.equal(2);
    expect(a.anyIteration!.avgRob.value).to.equal(29.1667); // (1/2 + 2/3 + 0 + 0) / 4 = 7/24
    expect(a.anyIteration!.worRob.value).to.equal(0);
    expect(a.anyIteration!.majority.value).to.equal(25);
    expect(a.curve).to.deep.equal({
      iteration: [0, 1, 2, 3],
      avgRob: [66.6667, 29.1667, 29.1667, 29.1667],
      worRob: [50, 0, 0, 0],
      majority: [75, 25, 25, 25],
    });
    expect(agg.robustSingle.value).to.equal(50);
    expect(agg.robustWorst.value).to.equal(0);
    expect(agg.robustMajority.value).to.equal(50);
    expect(agg.robustAnyIteration).to.deep.equal(a.anyIteration);
  });

  it('re-verifies the any-iteration state and the iterates from the raw data', () => {
    const rules = { indices: [0, 1, 2, 3], range: { start: 0, end: 4 }, R: 3, attacks: [{ name: 'a', norm: 'linf' as const, eps: 0.1 }] };
    const r = handMade()[0];
    r.attacks[0].anyRobust = 2 / 3; // the record claims the iterate at 1/2 never happened
    expect(recordProblems(r, rules).join()).to.match(
      /any-iteration state \(0\.666.*its iterates and evaluation give \(0\.5, false, false\)/,
    );
    const s = handMade()[0];
    s.attacks[0].iterates!.majority[1] = true; // 1 of 2 correct may be a plurality only without a tie; 0 of 2 never
    s.attacks[0].iterates!.correct[1] = 0;
    expect(recordProblems(s, rules).join()).to.match(/iterates\.majority\[1\] = true contradicts 0 of 2 draws correct/);
    const u = handMade()[1];
    u.attacks[0].iterates!.iteration = [0, 2, 1];
    expect(recordProblems(u, rules).join()).to.match(/iterates\.iteration\[2\] = 1 is not a non-negative integer above the previous one/);
    // the source of the in-loop draws must be the run's: EoT copies, or inLoopDraws independent draws
    expect(recordProblems(handMade()[0], { ...rules, inLoopDraws: 2 }).join()).to.match(
      /source "eot" with 2 draws, but the run judges every iterate by evaluation.inLoopDraws = 2 independent draws/,
    );
    const v = handMade()[0];
    v.attacks[0].iterates!.source = 'independent';
    expect(recordProblems(v, rules).join()).to.match(/iterates\.source is "independent", but the run has no evaluation\.inLoopDraws/);
    expect(recordProblems(v, { ...rules, inLoopDraws: 2 })).to.deep.equal([]);
    expect(recordProblems(v, { ...rules, inLoopDraws: 3 }).join()).to.match(/with 2 draws/);
  });

  it('collects the iterates of the step hook per row: iterate = restart * steps + step - 1, plurality with ties lost', () => {
    const c = new IterateCollector([10, 20], Int32Array.from([1, 2]));
    const step = (restart: number, s: number, rows: number[], preds: number[]): void =>
      c.add({ restart, step: s, totalSteps: 3, sampleIndices: rows, draws: 2, predictions: Int32Array.from(preds) } as unknown as StepInfo);
    step(0, 1, [10, 20], [1, 1, 2, 0]); // sample 10: 2/2; sample 20: 1/2 (tie 2 vs 0: lost)
    step(0, 2, [10, 20], [1, 0, 2, 2]);
    step(1, 1, [20], [0, 0]); // a restart on sample 20 only: iterate 3
    c.add({ restart: 1, step: 2, totalSteps: 3, sampleIndices: [20], correctFraction: new Float32Array([1]) } as unknown as StepInfo); // no draws: ignored
    expect(c.record(0)).to.deep.equal({ draws: 2, iteration: [0, 1], correct: [2, 1], majority: [true, false] });
    expect(c.record(1)).to.deep.equal({ draws: 2, iteration: [0, 1, 3], correct: [1, 2, 0], majority: [false, true, false] });
    expect(new IterateCollector([5], Int32Array.from([0])).record(0)).to.equal(undefined);
  });

  describe('end to end with the real pgd attack', () => {
    const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-scoring-'));
    const registry = () => {
      const r = toyRegistry();
      r.use(attacksPlugin);
      return r;
    };
    const pgd = { id: 'pgd', name: 'PGD-4+EoT-2', options: { norm: 'linf', eps: 0.1, stepSize: 0.03, steps: 4, eot: { samples: 2 } } };
    const run = async (defense: string, out: string, inLoopDraws?: number) =>
      runBenchmark({
        registry: registry(),
        config: withInLoop(toyConfig({ defense, attacks: [pgd], R: 4, n: 8, batchSize: 4, sanity: defense !== 'identity' }), inLoopDraws),
        baseDir: out,
        outDir: out,
        deps: toyDeps(),
        entriesDir: null,
      });

    it('a randomized defense: every attacked sample has its iterates, any-iteration <= after-attack, a valid entry, no leaks', async () => {
      await run('toy-noise', tmp()); // warm-up
      const before = tf.memory().numTensors;
      const r = await run('toy-noise', tmp());
      expect(tf.memory().numTensors).to.equal(before);
      const recs = readJournal(r.journal).records;
      for (const x of recs) {
        const a = x.attacks[0];
        if (!a.ran) continue;
        // the starting point and the iterates before each of the 4 updates, EoT-2 draws each
        expect(a.iterates!.iteration).to.deep.equal([0, 1, 2, 3]);
        expect(a.iterates!.draws).to.equal(2);
        expect(a.anyRobust!).to.be.at.most(a.robust);
        if (a.anyWorst) expect(a.robustWorst).to.equal(true);
      }
      const e = validateEntry(r.entry);
      const at = e.results.attacks[0];
      expect(at.curve!.iteration).to.deep.equal([0, 1, 2, 3, 4]);
      expect(at.anyIteration!.avgRob.value).to.be.at.most(at.accuracy.value);
      expect(at.anyIteration!.worRob.value).to.be.at.most(at.worstOfR!.value);
      expect(at.histogram!.counts.reduce((p, q) => p + q, 0)).to.equal(at.attacked);
      expect(e.results.cleanHistogram!.counts).to.have.length(5);
      expect(e.provenance.seeds).to.have.property('final:0:PGD-4+EoT-2');
    });

    it('independent in-loop draws: N fresh purifications of every iterate, the attack itself unchanged, no leaks', async () => {
      // identity defense: every draw of an iterate agrees, and the EoT copies the attack classified before
      // update s + 1 are of the iterate update s produced (pgd drops EoT on a deterministic target: 1 draw),
      // so the two sources must agree iterate by iterate
      const eot = readJournal((await run('identity', tmp())).journal).records;
      await run('identity', tmp(), 3); // warm-up
      const before = tf.memory().numTensors;
      const r = await run('identity', tmp(), 3);
      expect(tf.memory().numTensors).to.equal(before);
      const ind = readJournal(r.journal).records;
      let compared = 0;
      ind.forEach((x, i) => {
        const a = x.attacks[0];
        const b = eot[i].attacks[0];
        expect(a.ran).to.equal(b.ran);
        if (!a.ran) return;
        // the in-loop draws come from their own target: the attack and its final evaluation are unchanged
        expect(a.eval!.predictions).to.deep.equal(b.eval!.predictions);
        expect(a.iterates!.source).to.equal('independent');
        expect(a.iterates!.draws).to.equal(3);
        expect(a.iterates!.iteration).to.deep.equal([1, 2, 3, 4]);
        expect(b.iterates!.iteration).to.deep.equal([0, 1, 2, 3]);
        for (let s = 1; s <= 3; s++) {
          expect(a.iterates!.correct[s - 1] / 3, `sample ${x.index} iterate ${s}`).to.equal(b.iterates!.correct[s] / b.iterates!.draws);
          compared++;
        }
      });
      expect(compared).to.be.above(0);
      const e = validateEntry(r.entry);
      expect(e.results.attacks[0].anyIteration!.source).to.equal('independent');
      expect(e.results.attacks[0].anyIteration!.draws).to.equal(3);
      expect(e.provenance.seeds).to.have.property('inloop:0:PGD-4+EoT-2');
      // a randomized defense: the independent draws differ from the attack's own, and the records re-verify
      const noisy = await run('toy-noise', tmp(), 5);
      for (const x of readJournal(noisy.journal).records) if (x.attacks[0].ran) expect(x.attacks[0].iterates!.draws).to.equal(5);
      validateEntry(noisy.entry);
    });

    it('a deterministic defense: single = Wor.Rob = majority = Avg.Rob after the attack, and the same for the any-iteration counts', async () => {
      const r = await run('identity', tmp());
      const e = validateEntry(r.entry);
      const a = e.results.attacks[0];
      expect(a.single!.value).to.equal(a.accuracy.value);
      expect(a.worstOfR!.value).to.equal(a.accuracy.value);
      expect(a.majorityOfR!.value).to.equal(a.accuracy.value);
      const any = a.anyIteration!;
      expect(any.worRob.value).to.equal(any.avgRob.value);
      expect(any.majority.value).to.equal(any.avgRob.value);
      expect(any.avgRob.value).to.be.at.most(a.accuracy.value);
      expect(e.results.cleanSingle!.value).to.equal(e.results.clean!.value);
    });
  });
});
