/**
 * The plan and ETA of a run before it starts (estimate.ts): the counted rows against a hand count and
 * against the rows a real run of the same config puts through its targets, the measured estimate
 * (seconds = counted rows x measured seconds per row), and that planning writes nothing.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { isRecordingGradient, type AttackTarget } from '@dbp-bench/framework';
import { countRunWork, estimateRun, estimatedSeconds, formatRunEstimate, runBenchmark, type RunnerDeps } from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

const proto = (restarts: number, inputGradients = true, runs?: number) => ({
  policy: 'fresh' as const,
  eotSamples: 1,
  steps: 1,
  restarts,
  ...(runs ? { runs } : {}),
  gradient: 'target' as const,
  stepSize: null,
  requires: { inputGradients },
});

/** Deps whose targets count the rows of every logits call, with and without a gradient tape. */
function countingDeps(): RunnerDeps & { rows: { forward: number; gradient: number } } {
  const base = toyDeps();
  const rows = { forward: 0, gradient: 0 };
  return {
    ...base,
    rows,
    createTarget(c, d, o) {
      const t = base.createTarget(c, d, o);
      const counted: AttackTarget = {
        classifier: t.classifier,
        defense: t.defense,
        gradient: t.gradient,
        noise: (r) => t.noise(r),
        logits: (x, r) => {
          if (isRecordingGradient()) rows.gradient += x.shape[0];
          else rows.forward += x.shape[0];
          return t.logits(x, r);
        },
      };
      return counted;
    },
  };
}

describe('runner: plan and ETA before a run', function () {
  this.timeout(60000);

  it('counts the rows of a shard by hand: preflight, clean, each attack (runs x steps x EoT) and its final evaluation', () => {
    const w = countRunWork({
      samples: 5,
      batches: 2,
      batchSize: 3,
      R: 3,
      defenseCalls: 6,
      sanityChecks: true,
      attacks: [
        { name: 'a', id: 'pgd', policy: 'fresh', gradient: 'exact', eot: 4, steps: 10, protocol: proto(2) },
        { name: 'b', id: 'pgd', policy: 'fresh', gradient: 'exact', eot: 2, steps: 3, protocol: proto(1) },
        { name: 'c', id: 'dw', policy: 'both', gradient: 'exact', eot: 1, steps: 7, protocol: proto(1) },
        { name: 'd', id: 'score', policy: 'fresh', gradient: 'bpda', eot: 5, steps: 2, protocol: proto(1, false) },
        // declared runs (APGD: restarts x losses) take precedence over restarts
        { name: 'e', id: 'apgd', policy: 'fresh', gradient: 'exact', eot: 2, steps: 5, protocol: proto(1, true, 3) },
      ],
    });
    // gradient rows: a 5*2*10*4 = 400, b 5*3*2 = 30, c 5*7 = 35, d none, e 5*3*5*2 = 150;
    // preflight 2 samples x 2 settings (fresh/exact, both/exact)
    expect(w.attacks.map((a) => a.gradientRows)).to.deep.equal([400, 30, 35, 0, 150]);
    expect(w.attacks.map((a) => a.runs)).to.deep.equal([2, 1, 1, 1, 3]);
    expect(w.attacks.map((a) => a.iterationRows)).to.deep.equal([0, 0, 0, 50, 0]);
    expect(w.attacks.map((a) => a.finalRows)).to.deep.equal([15, 15, 15, 15, 15]);
    expect(w.preflight).to.deep.equal({ forwardRows: 4, gradientRows: 4 });
    expect(w.cleanRows).to.equal(15);
    expect(w.total.gradientRows).to.equal(619);
    // forward: preflight 4 + clean 15 + finals 75 + d's iterations 50
    expect(w.total.forwardRows).to.equal(144);
    expect(w.total.networkCalls).to.equal((144 + 619) * 7);
    // a vote multiplies the evaluation rows' calls (preflight, clean, finals), not the attack iterations
    const voted = countRunWork({
      samples: 5,
      batches: 2,
      batchSize: 3,
      R: 3,
      defenseCalls: 6,
      voteK: 10,
      sanityChecks: false,
      attacks: [],
    });
    expect(voted.preflight).to.deep.equal({ forwardRows: 0, gradientRows: 0 });
    expect(voted.total.networkCalls).to.equal(15 * 10 * 7);
    // gradient rows of gradient mode surrogate run the surrogate's chain (here 2 calls + classifier); the preflight's too
    const sur = countRunWork({
      samples: 5,
      batches: 2,
      batchSize: 3,
      R: 1,
      defenseCalls: 6,
      surrogateCalls: 2,
      sanityChecks: true,
      attacks: [{ name: 's', id: 'pgd', policy: 'fresh', gradient: 'surrogate', eot: 2, steps: 4, protocol: proto(1) }],
    });
    // forward: preflight 4 + clean 5 + final 5 + the defended verdict of each of the 40 attack gradient rows,
    // at 7 calls; gradient: preflight 2 + 5*4*2 = 40 at 3 calls
    expect(sur.attacks[0].verdictRows).to.equal(40);
    expect(sur.total).to.deep.equal({ forwardRows: 54, gradientRows: 42, networkCalls: 54 * 7 + 42 * 3 });
    // independent in-loop draws: N per iterate and sample (5 samples x 2 runs x 4 steps x N 3), voted like evaluations
    const inLoop = countRunWork({
      samples: 5,
      batches: 2,
      batchSize: 3,
      R: 1,
      defenseCalls: 6,
      voteK: 2,
      inLoopDraws: 3,
      sanityChecks: false,
      attacks: [{ name: 'i', id: 'pgd', policy: 'fresh', gradient: 'exact', eot: 2, steps: 4, protocol: proto(2) }],
    });
    expect(inLoop.attacks[0].inLoopRows).to.equal(120);
    // forward: clean 5 + final 5 + in-loop 120, each a vote of 2; gradient 5*2*4*2 = 80
    expect(inLoop.total).to.deep.equal({ forwardRows: 130, gradientRows: 80, networkCalls: 130 * 2 * 7 + 80 * 7 });
  });

  it('the counted rows of a config equal the rows a run of it puts through its targets (every sample attacked)', async () => {
    // samples 0..3 are labeled by the classifier's own clean prediction; with little noise they survive the clean evaluation
    const config = toyConfig({
      n: 4,
      batchSize: 3,
      R: 3,
      defenseOptions: { sigma: 0.01 },
      attacks: [{ id: 'toy-pgd', name: 'pgd-eot', options: { eot: { samples: 2 }, steps: 3 } }],
    });
    const e = await estimateRun({ registry: toyRegistry(), config, baseDir: os.tmpdir(), deps: toyDeps(), measure: false });
    // hand count: 4 samples, R 3: preflight 2 x 2 forward + 2 gradient; clean 12; pgd 4 x 3 steps x EoT 2 = 24; final 12
    expect(e.work.total).to.deep.equal({ gradientRows: 26, forwardRows: 28, networkCalls: (26 + 28) * 3 });
    expect(e.timing).to.equal(undefined);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-estimate-'));
    const deps = countingDeps();
    const r = await runBenchmark({ registry: toyRegistry(), config, baseDir: out, outDir: out, deps, entriesDir: null });
    expect(r.entry!.results.attacks[0].attacked).to.equal(4);
    expect(deps.rows).to.deep.equal({ forward: e.work.total.forwardRows, gradient: e.work.total.gradientRows });
  });

  it('measures seconds per row on this machine, estimates counted rows x seconds, writes nothing and leaks no tensors', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-estimate-'));
    const config = { ...toyConfig({ n: 7, batchSize: 3 }), output: { dir: path.join(out, 'runs') } };
    const before = tf.memory().numTensors;
    const e = await estimateRun({ registry: toyRegistry(), config, baseDir: out, deps: toyDeps(), probeRows: 4 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(fs.readdirSync(out)).to.deep.equal([]);
    const t = e.timing!;
    expect(t.probeRows).to.equal(4);
    expect(t.gradientRowSeconds).to.be.greaterThan(0).and.lessThan(60);
    expect(t.forwardRowSeconds).to.be.greaterThan(0).and.lessThan(60);
    expect(e.seconds).to.equal(e.work.total.gradientRows * t.gradientRowSeconds + e.work.total.forwardRows * t.forwardRowSeconds);
    expect(e.seconds).to.equal(estimatedSeconds(e.work, t));
    const text = formatRunEstimate(e);
    expect(text).to.match(/^plan of run toy-run \([0-9a-f]{16}\):/);
    expect(text).to.include('7 samples in 3 batch(es) of 3');
    expect(text).to.include(`attack 'pgd-eot' (toy-pgd, fresh noise, exact gradient): 1 run(s) x 3 steps x EoT 2 = 42 gradient rows`);
    expect(text).to.match(/estimated wall time: \S+ on this machine/);
    expect(text).to.include('one forward+backward pass of 4 rows');
  });

  it('a shard plans only its batches', async () => {
    const config = toyConfig({ n: 7, batchSize: 3 });
    const e = await estimateRun({
      registry: toyRegistry(),
      config,
      baseDir: os.tmpdir(),
      deps: toyDeps(),
      measure: false,
      shard: { index: 1, count: 2, source: 'test' },
    });
    // 3 batches (3, 3, 1): shard 1 of 2 gets batches 1 and 2 (shardBatches), 4 samples
    expect(e.work.batches).to.equal(2);
    expect(e.work.samples).to.equal(4);
    expect(e.work.cleanRows).to.equal(4 * 2);
    expect(formatRunEstimate(e)).to.include(', shard 1/2:');
  });
});
