import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { attackFamily, buildSite, canonicalEps, defenseRows, rowName, sectionLabel, type LeaderboardEntry } from '../src';
import { measuredEntry } from './helpers';
import { realisticEntries } from './site-fixtures';

const rowsOf = (entries: LeaderboardEntry[]) => defenseRows(entries.map((entry) => ({ page: entry.id, entry })));

describe('leaderboard by defense', () => {
  it('canonicalises budgets: 0.031, 0.0314, 0.03137 and 8/255 are one 8/255 section; 0.02 and l_2 stay decimals', () => {
    for (const v of [8 / 255, 0.031, 0.0314, 0.03137]) expect(canonicalEps('linf', v)).to.deep.equal({ key: '8/255', label: '8/255' });
    expect(canonicalEps('linf', 4 / 255).label).to.equal('4/255');
    expect(canonicalEps('linf', 0.02).label).to.equal('0.02');
    expect(canonicalEps('linf', 0.05).label).to.equal('0.05');
    // a decimal of at most two places is shown as written (MNIST's 0.3 is not 77/255, 0.2 not 51/255)
    expect(canonicalEps('linf', 0.3)).to.deep.equal({ key: '0.3', label: '0.3' });
    expect(canonicalEps('linf', 0.2).label).to.equal('0.2');
    expect(canonicalEps('linf', 16 / 255).label).to.equal('16/255');
    expect(canonicalEps('l2', 0.5).label).to.equal('0.5');
    expect(canonicalEps('l2', 128 / 255).label).to.equal('0.502');
    const e = measuredEntry();
    e.threatModel = { id: 'linf-0.031', norm: 'linf', eps: { value: 0.031, display: '0.031' } };
    expect(sectionLabel(e)).to.equal('Linf, eps = 8/255');
  });

  it('derives the attack family from the plugin id and the noise policy; unknown attacks are "other"', () => {
    expect(attackFamily({ id: 'pgd', noisePolicy: 'fresh' })).to.equal('pgd-eot');
    expect(attackFamily({ id: 'apgd', noisePolicy: 'fresh' })).to.equal('apgd-rand');
    expect(attackFamily({ id: 'autoattack-rand', noisePolicy: 'fresh' })).to.equal('apgd-rand');
    expect(attackFamily({ id: 'autoattack', noisePolicy: 'fresh' })).to.equal('apgd-rand');
    expect(attackFamily({ id: 'diffhammer', noisePolicy: 'fresh' })).to.equal('diffhammer');
    expect(attackFamily({ id: 'dw-box', noisePolicy: 'fwd' })).to.equal('dw-fwd');
    expect(attackFamily({ id: 'dw-box', noisePolicy: 'rev' })).to.equal('dw-rev');
    expect(attackFamily({ id: 'pgd', noisePolicy: 'both' })).to.equal('dw-both');
    expect(attackFamily({ id: 'square', noisePolicy: 'fresh' })).to.equal('other');
  });

  it('groups entries into one row per defense, classifier and threat model; the headline is the minimum over every attack', () => {
    const entries = realisticEntries().filter((e) => e.threatModel.norm === 'linf');
    const rows = rowsOf(entries).filter((r) => r.entries[0].entry.kind === 'measured');
    // DiffPure: three run configurations (options in another key order, one at eps 0.031) make one row.
    const diffpure = rows.filter((r) => r.entries.some((x) => x.entry.defense.id === 'diffpure'));
    expect(diffpure).to.have.length(1);
    expect(diffpure[0].entries.map((x) => x.page).sort()).to.deep.equal(['diffpure-dh', 'diffpure-dw', 'diffpure-pgd']);
    expect(rowName(diffpure[0])).to.equal('DiffPure (t*=0.1) + WRN-28-10');
    // Each family's cell is its lowest accuracy; the worst case is the lowest of all, by DW_Both (61 of 256).
    const cells = Object.fromEntries([...diffpure[0].cells].map(([f, c]) => [f, [c.page, c.attack.accuracy.value]]));
    expect(cells).to.deep.equal({
      'pgd-eot': ['diffpure-pgd', Number(((100 * 142) / 256).toFixed(4))],
      'dw-fwd': ['diffpure-dw', Number(((100 * 118) / 256).toFixed(4))],
      'dw-rev': ['diffpure-dw', (100 * 104) / 256],
      'dw-both': ['diffpure-dw', Number(((100 * 61) / 256).toFixed(4))],
      'apgd-rand': ['diffpure-dh', Number(((100 * 131) / 256).toFixed(4))],
      diffhammer: ['diffpure-dh', Number(((100 * 97) / 256).toFixed(4))],
    });
    expect(diffpure[0].worst!.family).to.equal('dw-both');
    expect(diffpure[0].worst!.attack.accuracy.value).to.equal(Math.min(...diffpure[0].entries.map((x) => x.entry.results.robust!.value)));
    expect(diffpure[0].worst!.attack.accuracy.ci!.lower).to.be.lessThan(diffpure[0].worst!.attack.accuracy.value);
    // A vote wrapper is another defense; so is another classifier.
    expect(rows.filter((r) => r.entries[0].entry.defense.id === 'dp-ddpm')).to.have.length(2);
    // Rows are ranked by the worst case.
    const worst = rows.map((r) => r.worst!.attack.accuracy.value);
    expect(worst).to.deep.equal([...worst].sort((a, b) => b - a));
    // An unknown attack (square) lands in "other" and can set the worst case.
    const ddim = rows.find((r) => r.entries[0].entry.defense.id === 'dp-ddim')!;
    expect(ddim.worst!.family).to.equal('other');
  });

  it('renders one row per defense with a column per attack family, the worst case with its interval and attack, and one 8/255 section', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-'));
    const entries = realisticEntries();
    const res = await buildSite(
      entries.map((entry) => ({ entry })),
      out,
      { now: new Date('2025-01-02T00:00:00Z') },
    );
    const index = fs.readFileSync(res.index, 'utf8');
    const sections = [...index.matchAll(/<section class="group"[^>]*data-eps="([^"]+)"/g)].map((m) => m[1]);
    expect(sections.sort()).to.deep.equal(['0.5', '8/255']);
    expect(index).to.match(/<span class="eps" title="exact budgets: [^"]*0\.031[^"]*0\.0314[^"]*">Linf, eps = 8\/255<\/span>/);
    const linf = index.slice(index.indexOf('data-eps="8/255"'));
    const header = [...linf.slice(0, linf.indexOf('</thead>')).matchAll(/<th[^>]*>([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(header).to.deep.equal([
      '#',
      'Defense',
      'Worst case %',
      'Clean %',
      'PGD+EoT',
      'APGD / AA-rand',
      'DiffHammer',
      'DW_Fwd',
      'DW_Rev',
      'DW_Both',
      'Other',
      'n',
      'Flags',
    ]);
    const diffpureRows = linf.split('<tr ').filter((r) => r.includes('>DiffPure (t*=0.1) + WRN-28-10</a>'));
    expect(diffpureRows).to.have.length(1);
    const row = diffpureRows[0];
    expect(row).to.include(
      `<td class="num worst" data-sort="23.8281"><a href="entries/cifar10__linf-8_255__diffpure-dw.html">23.8</a><span class="ci">[`,
    );
    expect(row).to.match(/<span class="by">DW_Both<\/span><span class="sub">Wor\.Rob 16\.8 · any-iter 23\.0<\/span>/);
    expect(row).to.include('<a href="entries/cifar10__linf-0.031__diffpure-dh.html" title="diffhammer-100');
    expect(row).to.include('3 configurations');
    // Imported entries show the paper; randomized imports are flagged and not AT.
    expect(index).to.include(
      '<a href="https://arxiv.org/abs/0000.00001" rel="noopener noreferrer">An Example of Adversarial Training with Extra Data</a> <span class="muted">NeurIPS 2021</span>',
    );
    const stochastic = linf.split('<tr ').find((r) => r.includes('Example2020Stochastic'))!;
    expect(stochastic).to.not.include('data-family="at"');
    expect(stochastic).to.include('>randomized</span>');
    // Ranks follow the worst case.
    const worstSorted = [...linf.slice(0, linf.indexOf('</tbody>')).matchAll(/<td class="num worst" data-sort="([^"]*)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(worstSorted).to.deep.equal([...worstSorted].sort((a, b) => b - a));
  });

  it('shows the randomized-defense metrics, the iteration curve and the draw histograms on an entry page, and none for an old entry', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-'));
    const res = await buildSite(
      realisticEntries().map((entry) => ({ entry })),
      out,
    );
    const rich = fs.readFileSync(
      res.pages.find((p) => p.endsWith('__diffpure-dw.html'))!,
      'utf8',
    );
    expect(rich).to.include('<h3>Randomized-defense metrics</h3>');
    expect(rich).to.match(
      /<th>Evaluation \(R = 8\)<\/th><th class="num">Single %<\/th><th class="num">Avg\.Rob %<\/th><th class="num">Wor\.Rob %<\/th><th class="num">Majority %<\/th>/,
    );
    expect(rich).to.match(/<tr><td>after dw-both-100<\/td><td class="num">23\.44<span class="ci">\[/);
    expect(rich).to.include('<svg class="curve"');
    expect(rich.match(/<polyline class="avg"/g)).to.have.length(1);
    expect(rich.match(/<polyline class="wor"/g)).to.have.length(1);
    expect(rich).to.match(/<text class="pt-label"[^>]*>Avg\.Rob \d+\.\d<\/text>/);
    expect(rich).to.include('>attack iteration</text>');
    expect(rich.match(/<svg class="hist"/g)).to.have.length(2);
    const e = realisticEntries().find((x) => x.id === 'diffpure-dw')!;
    const h = e.results.attacks[2].histogram!;
    expect(h.counts.reduce((a, b) => a + b, 0)).to.equal(256);
    for (const [c, k] of h.counts.entries()) if (k > 0) expect(rich).to.include(`<title>${c} of 8 draws correct: ${k} samples</title>`);
    const old = fs.readFileSync(
      res.pages.find((p) => p.endsWith('__gdmp-pgd.html'))!,
      'utf8',
    );
    expect(old).to.not.include('Randomized-defense metrics');
    expect(old).to.not.include('<svg class="curve"');
    expect(old).to.not.include('<svg class="hist"');
  });
});
