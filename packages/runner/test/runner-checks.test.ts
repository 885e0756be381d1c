/**
 * The runner refuses to report a stalled attack as robustness: per-sample checks (vanished first
 * gradient, stalled, l_inf budget never reached) with the real PGD / APGD plugins, the real attack
 * target and evaluation, on a gradient-masking defense, a normal setting, a too-short PGD, the
 * published ResNet-56 (when the shared data is present), and shards + merge. Through the CLI with an
 * external plugin module: packages/cli/test/run-command.test.ts.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as attacks from '@dbp-bench/attacks';
import * as datasets from '@dbp-bench/datasets';
import * as defenses from '@dbp-bench/defenses-dbp';
import { PluginRegistry, vanishedGradientRows } from '@dbp-bench/framework';
import * as models from '@dbp-bench/models';
import { convertWeights, saveModel } from '@dbp-bench/models';
import { validateEntry } from '@dbp-bench/leaderboard';
import { STALLED_FRACTION, countChecks, mergeRun, parseShard, readJournal, runBenchmark, sampleChecks, type SampleRecord } from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

const REPO_ROOT = path.resolve(__dirname, '../../../..');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-checks-'));
}

/** The toy plugins plus the real attack plugins. */
function registry() {
  return toyRegistry().use(attacks.plugin, '@dbp-bench/attacks', require.resolve('@dbp-bench/attacks'));
}

/** The plugin packages this test uses (datasets, models, defenses, attacks), as the CLI registers them. */
function packageRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use(datasets.plugin, '@dbp-bench/datasets', require.resolve('@dbp-bench/datasets'));
  r.use(models.plugin, '@dbp-bench/models', require.resolve('@dbp-bench/models'));
  r.use(defenses.plugin, '@dbp-bench/defenses-dbp', require.resolve('@dbp-bench/defenses-dbp'));
  return r.use(attacks.plugin, '@dbp-bench/attacks', require.resolve('@dbp-bench/attacks'));
}

async function run(config: object, out: string, extra: Partial<Parameters<typeof runBenchmark>[0]> = {}) {
  return runBenchmark({ registry: registry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null, ...extra });
}

const PGD = { id: 'pgd', name: 'pgd', options: { eps: 0.1, stepSize: 0.025, steps: 5, eot: { samples: 1 } } };
const APGD = { id: 'apgd', name: 'apgd', options: { eps: 0.1, steps: 5, losses: ['ce'], eot: { samples: 1 }, selectionDraws: 1 } };

describe('runner: attack checks (stalled attacks are not robustness)', function () {
  this.timeout(120000);

  it('vanishedGradientRows: zero, NaN and infinite rows vanish; tiny and normal rows do not', () => {
    const g = tf.tensor2d([
      [0, 0, 0],
      [1, NaN, 0],
      [0, Infinity, 1],
      [1e-30, 0, 0],
      [0.5, -2, 0],
    ]);
    expect(vanishedGradientRows(g)).to.deep.equal([true, true, true, false, false]);
    g.dispose();
  });

  it('sampleChecks and countChecks: hand-computed thresholds', () => {
    const a = { norm: 'linf' as const, eps: 0.1, step: 0.025 };
    const vanished = { gradientVanished: false, keptClean: false };
    // Robust with delta 0: stalled and below budget; delta of one step: only below budget; delta eps: neither.
    expect(sampleChecks(a, 0, 1, vanished)).to.deep.equal({ gradientVanished: false, keptClean: false, stalled: true, belowBudget: true });
    expect(sampleChecks(a, 0.024, 1, vanished)).to.include({ stalled: true, belowBudget: true });
    expect(sampleChecks(a, 0.025, 1, vanished)).to.include({ stalled: false, belowBudget: true });
    expect(sampleChecks(a, 0.1, 0.5, vanished)).to.include({ stalled: false, belowBudget: false });
    expect(sampleChecks(a, 0.09995, 1, vanished)).to.include({ belowBudget: false }); // within the 1e-3 relative tolerance
    // Not counted robust (fooled), or kept clean on purpose: never stalled.
    expect(sampleChecks(a, 0, 0, vanished)).to.include({ stalled: false, belowBudget: false });
    expect(sampleChecks(a, 0, 1, { gradientVanished: true, keptClean: true })).to.deep.equal({
      gradientVanished: true,
      keptClean: true,
      stalled: false,
      belowBudget: false,
    });
    // No step size known: only a zero perturbation is a stall; l2 has no budget check.
    expect(sampleChecks({ norm: 'l2', eps: 0.5, step: null }, 0.001, 1, vanished)).to.deep.equal({
      gradientVanished: false,
      keptClean: false,
      stalled: false,
      belowBudget: null,
    });
    expect(sampleChecks({ norm: 'l2', eps: 0.5, step: null }, 0, 1, vanished)).to.include({ stalled: true });
    // The 1% rule over all samples of the run (each unmoved sample once).
    const rec = (ran: boolean, checks?: SampleRecord['attacks'][0]['checks'], robust = 1): SampleRecord => ({
      type: 'sample',
      position: 0,
      index: 0,
      label: 0,
      clean: { predictions: [0], mean: 1, worst: true, majority: true },
      attacks: [{ name: 'a', ran, robust, robustWorst: robust > 0, robustMajority: robust > 0, ...(checks ? { checks } : {}) }],
      robust,
    });
    const ok = { gradientVanished: false, keptClean: false, stalled: false, belowBudget: false };
    const records = Array.from({ length: 200 }, () => rec(true, ok));
    records[0] = rec(true, { ...ok, gradientVanished: true, stalled: true, belowBudget: true });
    records[1] = rec(true, { ...ok, stalled: true, belowBudget: true });
    records[2] = rec(false);
    records[3] = rec(true); // an old record without checks
    let c = countChecks(records, 0, 'linf');
    expect(c).to.deep.equal({
      ran: 199,
      robust: 198,
      reported: 198,
      gradientVanished: 1,
      stalled: 2,
      unmoved: 2,
      keptClean: 0,
      belowBudget: 2,
      unchecked: 1,
      flags: [],
    });
    expect(2 > STALLED_FRACTION * 200).to.equal(false);
    records[4] = rec(true, { ...ok, gradientVanished: true }, 0);
    c = countChecks(records, 0, 'linf');
    expect(c.unmoved).to.equal(3);
    expect(c.flags).to.deep.equal(['stalled']);
  });

  it('flags the real PGD and APGD on a gradient-masking defense (zero backward), in records, entry, warning', async () => {
    const r = await run(toyConfig({ defense: 'toy-zero-grad', R: 1, attacks: [PGD, APGD] }), tmp());
    const recs = readJournal(r.journal).records;
    const cleanCorrect = recs.filter((x) => x.clean.mean > 0);
    expect(cleanCorrect).to.have.length(8);
    for (const x of cleanCorrect) {
      // PGD without random start: sign(0) = 0, the sample never moves and stays robust.
      expect(x.attacks[0].checks).to.deep.equal({ gradientVanished: true, keptClean: false, stalled: true, belowBudget: true });
      expect(x.attacks[0].distance!.linf).to.equal(0);
    }
    const [pgd, apgd] = r.entry!.results.attacks.map((a) => a.checks!);
    expect(pgd).to.deep.equal({
      ran: 8,
      robust: 8,
      reported: 8,
      gradientVanished: 8,
      stalled: 8,
      unmoved: 8,
      keptClean: 0,
      belowBudget: 8,
      unchecked: 0,
      flags: ['stalled', 'below-budget'],
    });
    // APGD starts at a random point of the sphere: its first gradient vanishes for every sample it ran on.
    expect(apgd.ran).to.equal(8);
    expect(apgd.reported).to.equal(8);
    expect(apgd.gradientVanished).to.equal(8);
    expect(apgd.flags).to.include('stalled');
    expect(r.entry!.flags.stalledAttack).to.equal(true);
    expect(r.entry!.flags.unreliable).to.equal(true);
    validateEntry(r.entry);
    expect(r.checkWarning).to.match(/^WARNING: run toy-run .*overstated/);
    expect(r.checkWarning).to.match(
      /attack 'pgd' \(pgd\): 8 of 10 samples \(80\.0%, limit 1%\) were not moved: 8 had an all-zero or non-finite first input gradient, 8 were counted robust/,
    );
    expect(r.checkWarning).to.match(/attack 'apgd' \(apgd\): 8 of 10 samples/);
    expect(r.checkWarning!.split('\n').length).to.be.greaterThan(3);
  });

  it('does not flag the real PGD and APGD attacking the undefended linear classifier', async () => {
    const small = (a: typeof PGD | typeof APGD) => ({
      ...a,
      options: { ...a.options, eps: 0.02, ...('stepSize' in a.options ? { stepSize: 0.005 } : {}) },
    });
    const r = await run(toyConfig({ defense: 'identity', R: 1, attacks: [small(PGD), small(APGD)] }), tmp());
    for (const c of r.entry!.results.attacks.map((a) => a.checks!)) {
      expect(c.gradientVanished).to.equal(0);
      expect(c.stalled).to.equal(0);
      expect(c.belowBudget).to.equal(0);
      expect(c.reported).to.equal(c.ran);
      expect(c.flags).to.deep.equal([]);
    }
    const pgd = r.entry!.results.attacks[0].checks!;
    expect(pgd.ran).to.equal(8);
    expect(pgd.robust).to.be.greaterThan(0); // samples robust after a real attack, none of them flagged
    expect(r.entry!.flags.stalledAttack).to.equal(false);
    expect(r.checkWarning).to.equal(undefined);
  });

  it('flags an l_inf PGD too short to reach the budget (3 steps of 0.01 for eps 0.1) as below-budget, not stalled', async () => {
    const short = { id: 'pgd', name: 'pgd-short', options: { eps: 0.1, stepSize: 0.01, steps: 3, eot: { samples: 1 } } };
    const r = await run(toyConfig({ defense: 'identity', R: 1, attacks: [short] }), tmp());
    const c = r.entry!.results.attacks[0].checks!;
    expect(c.robust).to.be.greaterThan(0);
    expect(c.belowBudget).to.equal(c.robust);
    expect(c.stalled).to.equal(0);
    expect(c.flags).to.deep.equal(['below-budget']);
    for (const x of readJournal(r.journal).records.filter((y) => y.attacks[0].ran))
      expect(x.attacks[0].distance!.linf).to.be.closeTo(0.03, 1e-6);
    expect(r.checkWarning).to.match(/attack 'pgd-short' \(pgd\): \d+ of the \d+ samples counted robust never reached the l_inf budget/);
  });

  it('shards 0/2 + 1/2 merged give the unsharded checks and flags', async () => {
    const cfg = toyConfig({ defense: 'toy-zero-grad', R: 1, attacks: [PGD, APGD] });
    const full = await run(cfg, tmp());
    const out = tmp();
    const s0 = await run(cfg, out, { shard: parseShard('0/2') });
    expect(s0.checkWarning).to.match(/shard 0\/2/);
    await run(cfg, out, { shard: parseShard('1/2') });
    const merged = mergeRun([s0.runDir]);
    expect(merged.entry.results).to.deep.equal(full.entry!.results);
    expect(merged.entry.flags).to.deep.equal(full.entry!.flags);
    expect(merged.checkWarning!.split('\n').slice(1)).to.deep.equal(full.checkWarning!.split('\n').slice(1));
  });

  it('does not flag the real PGD on the published ResNet-56 at l_inf 1/255 (the case a zero Sign kernel stalled)', async function () {
    const weights = path.resolve(
      process.env.DBP_SHARED_MODELS ?? path.resolve(REPO_ROOT, '../shared/models'),
      'akamaster-resnet-cifar10/resnet56-4bfd9763.th',
    );
    const data = path.resolve(
      process.env.DBP_SHARED_DATA ?? path.resolve(REPO_ROOT, '../shared/data'),
      'cifar-10/cifar-10-batches-bin-partial',
    );
    if (!fs.existsSync(weights) || !fs.existsSync(path.join(data, 'test_batch.bin'))) {
      console.log(`      (skipped: ${fs.existsSync(weights) ? data : weights} not found)`);
      this.skip();
    }
    const dir = tmp();
    const c = convertWeights(weights, { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    saveModel(path.join(dir, 'resnet56.safetensors'), c.model);
    c.model.dispose();
    const config = {
      name: 'resnet56-pgd10-linf1',
      dataset: { id: 'cifar10', options: { dir: data }, subset: { kind: 'first', n: 16 } },
      classifier: { weights: 'resnet56.safetensors' },
      defense: { id: 'identity' },
      attacks: [{ id: 'pgd', name: 'pgd-10', options: { eps: 1 / 255, stepSize: 0.25 / 255, steps: 10, eot: { samples: 1 } } }],
      evaluation: { purifications: 1, batchSize: 16 },
      leaderboard: { model: 'ResNet-56', family: 'none', reducedProtocol: true },
    };
    const r = await runBenchmark({ registry: packageRegistry(), config, baseDir: dir, outDir: dir, entriesDir: null });
    const checks = r.entry!.results.attacks[0].checks!;
    expect(checks.ran).to.be.at.least(14);
    expect(checks.robust).to.be.greaterThan(0);
    expect(checks).to.deep.include({ reported: checks.ran, gradientVanished: 0, stalled: 0, belowBudget: 0, flags: [] });
    for (const x of readJournal(r.journal).records.filter((y) => y.attacks[0].ran))
      expect(x.attacks[0].distance!.linf * 255).to.be.closeTo(1, 1e-4);
    expect(r.checkWarning).to.equal(undefined);
  });
});
