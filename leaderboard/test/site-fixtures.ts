/**
 * A realistic leaderboard for the by-defense tests and the screenshots: several DBP defenses, each under
 * PGD+EoT, APGD, DiffHammer and DW-box noise replay (some as two separate run configurations), AT
 * baselines, budgets written 8/255 and 0.031 / 0.0314, the randomized-defense fields of ALGORITHMS.md
 * §14.4 (histograms, curves, any-iteration) on some entries and none on others, and imported RobustBench
 * entries. The numbers are made up; every entry passes validateEntry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NoisePolicy } from '@dbp-bench/core';
import { accuracyMetric, importRobustBench, validateEntry, type AttackResult, type LeaderboardEntry, type ProtocolAttack } from '../src';
import { FIXTURES, measuredEntry } from './helpers';

interface AttackSpec {
  name: string;
  id: string;
  policy?: NoisePolicy;
  eot?: number;
  steps?: number;
  /** Correct samples (of n) after this attack, Avg.Rob (running minimum applied). */
  robust: number;
  /** Record the §14.4 fields (histogram, curve, single/worst/majority, any-iteration). */
  rich?: boolean;
}

const R = 8;

/** A histogram of `correct` correct-draw fractions over n samples, R draws: mean matches avg (approximately). */
function histogram(n: number, avgCorrect: number, worCorrect: number): { draws: number; counts: number[] } {
  const counts = new Array<number>(R + 1).fill(0);
  counts[R] = worCorrect;
  const rest = n - worCorrect;
  // Spread the rest over 0..R-1 so the mean is near avgCorrect.
  const target = Math.max(0, avgCorrect - worCorrect) * R;
  let left = rest;
  let mass = 0;
  for (let c = R - 1; c >= 1 && left > 0; c--) {
    const k = Math.min(left, Math.floor((target - mass) / c / 2) || 0);
    counts[c] += k;
    mass += k * c;
    left -= k;
  }
  counts[0] += left;
  return { draws: R, counts };
}

export function defenseEntry(spec: {
  id: string;
  name: string;
  defense: string;
  family?: 'dbp' | 'at' | 'none';
  options?: Record<string, unknown>;
  arch?: string;
  sha?: string;
  eps?: number;
  epsDisplay?: string;
  n?: number;
  clean: number;
  attacks: AttackSpec[];
}): LeaderboardEntry {
  const n = spec.n ?? 256;
  const e = measuredEntry({ id: spec.id, name: spec.name, family: spec.family ?? 'dbp', n });
  const eps = spec.eps ?? 8 / 255;
  e.threatModel = {
    id: spec.eps === undefined ? 'linf-8_255' : `linf-${String(spec.eps)}`,
    norm: 'linf',
    eps: { value: eps, display: spec.epsDisplay ?? (spec.eps === undefined ? '8/255' : String(spec.eps)) },
  };
  e.defense = { ...e.defense, id: spec.defense, family: spec.family ?? 'dbp', options: spec.options ?? {} };
  e.classifier = {
    architecture: spec.arch ?? 'wrn-28-10',
    weights: `weights/${spec.arch ?? 'wrn-28-10'}.safetensors`,
    sha256: spec.sha ?? 'a'.repeat(64),
  };
  const clean = accuracyMetric(spec.clean, n);
  let running = spec.clean;
  const results: AttackResult[] = [];
  const protocol: ProtocolAttack[] = [];
  for (const a of spec.attacks) {
    running = Math.min(running, a.robust);
    const r: AttackResult = { name: a.name, id: a.id, accuracy: accuracyMetric(running, n), attacked: n };
    if (a.rich) {
      const wor = Math.round(running * 0.7);
      r.worstOfR = accuracyMetric(wor, n);
      r.majorityOfR = accuracyMetric(Math.round(running * 0.95), n);
      r.single = accuracyMetric(Math.round(running * 0.98), n);
      r.histogram = histogram(n, running, wor);
      const steps = a.steps ?? 10;
      const iteration = Array.from({ length: steps + 1 }, (_, i) => i);
      const cleanPct = (100 * spec.clean) / n;
      const endAvg = (100 * Math.round(running * 0.96)) / n;
      const endWor = (100 * Math.round(wor * 0.9)) / n;
      const decay = (end: number, i: number): number => Number((end + (cleanPct - end) * Math.exp(-i / 3)).toFixed(2));
      // any-iteration counts never rise with the iterations: a running minimum
      const falling = (v: number[]): number[] => v.map((x, i) => Math.min(x, ...v.slice(0, i + 1)));
      r.curve = {
        iteration,
        avgRob: falling(iteration.map((i) => (i === steps ? endAvg : decay(endAvg, i)))),
        worRob: falling(iteration.map((i) => (i === steps ? endWor : decay(endWor, i)))),
      };
      r.anyIteration = {
        source: 'eot',
        draws: null,
        avgRob: accuracyMetric(Math.round(running * 0.96), n),
        worRob: accuracyMetric(Math.round(wor * 0.9), n),
        majority: accuracyMetric(Math.round(running * 0.93), n),
      };
    }
    results.push(r);
    protocol.push({
      name: a.name,
      id: a.id,
      options: { steps: a.steps ?? 10 },
      eot: a.eot ?? 10,
      steps: a.steps ?? 10,
      noisePolicy: a.policy ?? 'fresh',
      gradient: 'exact',
      norm: 'linf',
      eps,
    });
  }
  const robust = results[results.length - 1].accuracy;
  e.results = { clean, attacks: results, robust };
  if (spec.attacks.some((a) => a.rich)) {
    e.results.draws = R;
    e.results.cleanHistogram = histogram(n, spec.clean, Math.round(spec.clean * 0.9));
    const last = results[results.length - 1];
    e.results.robustWorst = last.worstOfR ?? null;
    e.results.robustMajority = last.majorityOfR ?? null;
    e.results.robustSingle = last.single ?? null;
    e.results.robustAnyIteration = last.anyIteration;
    e.results.cleanWorstOfR = accuracyMetric(Math.round(spec.clean * 0.9), n);
    e.protocol!.purifications = R;
  }
  e.protocol!.attacks = protocol;
  e.values = {
    reported: null,
    measured: { clean: clean.value, robust: robust.value, source: `dbp-bench run ${spec.id}` },
    bestKnown: { robust: robust.value, source: 'this evaluation' },
  };
  e.flags.randomized = (spec.family ?? 'dbp') === 'dbp';
  if (spec.family === 'at') {
    e.defense.capabilities = { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 1 };
    e.flags.forwardPasses = 1;
  }
  return validateEntry(e, `fixture ${spec.id}`);
}

/** The realistic site: measured DBP and AT entries plus the RobustBench fixtures (randomized ones included). */
export function realisticEntries(): LeaderboardEntry[] {
  const out: LeaderboardEntry[] = [
    defenseEntry({
      id: 'diffpure-pgd',
      name: 'DiffPure (t*=0.1) + WRN-28-10, PGD-200 EoT-20',
      defense: 'diffpure',
      options: { tStar: 0.1, sampler: 'sde' },
      clean: 228,
      attacks: [{ name: 'pgd-200-eot20', id: 'pgd', steps: 200, eot: 20, robust: 142, rich: true }],
    }),
    defenseEntry({
      id: 'diffpure-dw',
      name: 'DiffPure (t*=0.1) + WRN-28-10, DW-box',
      defense: 'diffpure',
      options: { sampler: 'sde', tStar: 0.1 },
      clean: 227,
      attacks: [
        { name: 'dw-fwd-100', id: 'dw-box', policy: 'fwd', steps: 100, robust: 118 },
        { name: 'dw-rev-100', id: 'dw-box', policy: 'rev', steps: 100, robust: 104 },
        { name: 'dw-both-100', id: 'dw-box', policy: 'both', steps: 100, robust: 61, rich: true },
      ],
    }),
    defenseEntry({
      id: 'diffpure-dh',
      name: 'DiffPure (t*=0.1) + WRN-28-10, DiffHammer + APGD-rand',
      defense: 'diffpure',
      options: { tStar: 0.1, sampler: 'sde' },
      eps: 0.031,
      epsDisplay: '0.031',
      clean: 229,
      attacks: [
        { name: 'autoattack-rand', id: 'autoattack-rand', steps: 100, eot: 20, robust: 131 },
        { name: 'diffhammer-100', id: 'diffhammer', steps: 100, robust: 97, rich: true },
      ],
    }),
    defenseEntry({
      id: 'gdmp-pgd',
      name: 'GDMP (ddpm) + WRN-28-10',
      defense: 'gdmp',
      options: { tStar: 0.15, guidance: 'mse' },
      clean: 222,
      attacks: [
        { name: 'pgd-100-eot10', id: 'pgd', steps: 100, robust: 150 },
        { name: 'dw-both-100', id: 'dw-box', policy: 'both', steps: 100, robust: 88 },
        { name: 'diffhammer-100', id: 'diffhammer', steps: 100, robust: 95 },
      ],
    }),
    defenseEntry({
      id: 'dp-ddim-pgd',
      name: 'DP_DDIM (10 steps) + WRN-28-10',
      defense: 'dp-ddim',
      options: { tStar: 0.1, steps: 10 },
      eps: 0.0314,
      epsDisplay: '0.0314',
      clean: 216,
      attacks: [
        { name: 'pgd-100-eot10', id: 'pgd', steps: 100, robust: 130 },
        { name: 'apgd-100-eot10', id: 'apgd', steps: 100, robust: 124 },
        { name: 'dw-both-100', id: 'dw-box', policy: 'both', steps: 100, robust: 49 },
        { name: 'square-5000', id: 'square', steps: 5000, eot: 1, robust: 47 },
      ],
    }),
    defenseEntry({
      id: 'dp-ddpm-vote',
      name: 'DP_DDPM + WRN-28-10, majority vote of 5',
      defense: 'dp-ddpm',
      options: { tStar: 0.1, vote: { draws: 5, rule: 'majority' } },
      clean: 231,
      attacks: [
        { name: 'pgd-100-eot10', id: 'pgd', steps: 100, robust: 140 },
        { name: 'dw-both-100', id: 'dw-box', policy: 'both', steps: 100, robust: 72 },
      ],
    }),
    defenseEntry({
      id: 'dp-ddpm',
      name: 'DP_DDPM + WRN-28-10',
      defense: 'dp-ddpm',
      options: { tStar: 0.1 },
      clean: 226,
      attacks: [
        { name: 'pgd-100-eot10', id: 'pgd', steps: 100, robust: 137 },
        { name: 'dw-both-100', id: 'dw-box', policy: 'both', steps: 100, robust: 58 },
      ],
    }),
    defenseEntry({
      id: 'pgd-at-r20',
      name: 'PGD-AT ResNet-20',
      defense: 'none',
      family: 'at',
      arch: 'resnet-20',
      sha: 'b'.repeat(64),
      clean: 203,
      attacks: [
        { name: 'pgd-100', id: 'pgd', steps: 100, eot: 1, robust: 118 },
        { name: 'apgd-100', id: 'apgd', steps: 100, eot: 1, robust: 112 },
      ],
    }),
    defenseEntry({
      id: 'standard-wrn',
      name: 'Standard WRN-28-10 (no defense)',
      defense: 'none',
      family: 'none',
      sha: 'c'.repeat(64),
      clean: 242,
      attacks: [{ name: 'pgd-20', id: 'pgd', steps: 20, eot: 1, robust: 0 }],
    }),
  ];
  const now = new Date('2025-01-01T00:00:00Z');
  for (const dir of ['model_info', 'model_info_randomized']) {
    const p = path.join(FIXTURES, dir);
    if (dir === 'model_info' || fs.existsSync(p)) for (const { entry } of importRobustBench(p, { now }).entries) out.push(entry);
  }
  return out;
}

/** A wide test figure (an SVG 960 px wide): on a phone it must shrink to the column, not widen the page. */
export const WIDE_FIGURE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="960" height="300" viewBox="0 0 960 300"><rect width="960" height="300" fill="#eef"/><text x="20" y="40">study figure</text></svg>\n`;

/**
 * A study over fixture entries (cifar10, linf 8/255, n = 256), with the Wilson intervals of its cells
 * computed by hand (95%, z = 1.95996):
 * - DP_DDPM white-box 200/256 = 78.13 [72.67, 82.75] vs DW_Both 100/256 = 39.06 [33.29, 45.16]:
 *   72.67 > 45.16, holds with separated intervals;
 * - DP_DDIM white-box 130/256 = 50.78 [44.69, 56.85] vs DW_Both 120/256 = 46.88 [40.85, 52.99]:
 *   50.78 > 46.88 but 44.69 <= 52.99, holds on the point estimates only;
 * - GDMP white-box 90/256 = 35.16 [29.57, 41.19] vs DW_Both 110/256 = 42.97 [37.05, 49.09]: does not hold;
 * - DP_DDPM DW_Fwd and the ADDT white-box cell have no entry (not finished); `st-ddpm-dw-rev` exists
 *   only under another threat model (eps 0.031), so it is not finished either;
 * - the AT baseline 150/256 = 58.59 [52.48, 64.46].
 * `dir` receives the study file and its figure `figs/wide.svg`.
 */
export function studyFixture(dir: string): { entries: LeaderboardEntry[]; studyFile: string; study: Record<string, unknown> } {
  const cell = (id: string, defense: string, name: string, robust: number, policy?: NoisePolicy, eps?: number): LeaderboardEntry =>
    defenseEntry({
      id,
      name,
      defense,
      eps,
      epsDisplay: eps === undefined ? undefined : String(eps),
      clean: 240,
      attacks: [{ name: policy ? `dw-${policy}-10` : 'pgd-10-eot2', id: policy ? 'dw-box' : 'pgd', policy, steps: 10, robust, rich: true }],
    });
  const entries = [
    cell('st-ddpm-wb', 'dp-ddpm', 'DP_DDPM white-box', 200),
    cell('st-ddpm-dw-both', 'dp-ddpm', 'DP_DDPM DW_Both', 100, 'both'),
    cell('st-ddpm-dw-rev', 'dp-ddpm', 'DP_DDPM DW_Rev at 0.031', 150, 'rev', 0.031),
    cell('st-ddim-wb', 'dp-ddim', 'DP_DDIM white-box', 130),
    cell('st-ddim-dw-both', 'dp-ddim', 'DP_DDIM DW_Both', 120, 'both'),
    cell('st-gdmp-wb', 'gdmp', 'GDMP white-box', 90),
    cell('st-gdmp-dw-both', 'gdmp', 'GDMP DW_Both', 110, 'both'),
    defenseEntry({
      id: 'st-at',
      name: 'PGD-AT baseline',
      defense: 'none',
      family: 'at',
      clean: 230,
      attacks: [{ name: 'pgd-10', id: 'pgd', steps: 10, eot: 1, robust: 150 }],
    }),
  ];
  const study = {
    schemaVersion: 1,
    id: 'fixture',
    title: 'Fixture study <b>not bold</b>',
    dataset: 'cifar10',
    threatModel: 'linf-8_255',
    description: ['A fixture with `code` and <script>window.__pwned=1</script> as text.'],
    protocol: ['threat: l_inf 8/255', 'attacks: PGD-10 with `EoT-2`'],
    dwBox: {
      note: 'Rows are defenses.',
      rows: [
        {
          label: 'DP_DDPM',
          cells: { whiteBox: 'st-ddpm-wb', dwFwd: 'st-ddpm-dw-fwd', dwRev: 'st-ddpm-dw-rev', dwBoth: 'st-ddpm-dw-both' },
        },
        { label: 'DP_DDIM', note: 'white-box and DW_Both only', cells: { whiteBox: 'st-ddim-wb', dwBoth: 'st-ddim-dw-both' } },
        { label: 'GDMP', cells: { whiteBox: 'st-gdmp-wb', dwBoth: 'st-gdmp-dw-both' } },
      ],
    },
    addt: { rows: [{ defense: 'DP_DDPM', attack: 'white-box', vanilla: 'st-ddpm-wb', addt: 'st-ddpm-addt-wb' }] },
    baselines: [{ label: 'PGD-AT', entry: 'st-at' }],
    checks: [
      { claim: 'DP_DDPM: white-box > DW_Both', higher: 'st-ddpm-wb', lower: 'st-ddpm-dw-both' },
      { claim: 'DP_DDIM: white-box > DW_Both', higher: 'st-ddim-wb', lower: 'st-ddim-dw-both' },
      { claim: 'GDMP: white-box > DW_Both', higher: 'st-gdmp-wb', lower: 'st-gdmp-dw-both' },
      { claim: 'DP_DDPM white-box: ADDT >= vanilla', higher: 'st-ddpm-addt-wb', lower: 'st-ddpm-wb', relation: '>=' },
    ],
    figures: [{ file: 'figs/wide.svg', caption: 'A wide figure, made by `dbp-bench analyze landscape`.' }],
  };
  fs.mkdirSync(path.join(dir, 'figs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'figs', 'wide.svg'), WIDE_FIGURE_SVG);
  const studyFile = path.join(dir, 'study.json');
  fs.writeFileSync(studyFile, JSON.stringify(study, null, 2));
  return { entries, studyFile, study };
}
