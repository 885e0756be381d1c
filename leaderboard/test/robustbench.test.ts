import { expect } from 'chai';
import * as path from 'node:path';
import { DataFormatError } from '@dbp-bench/core';
import { footnoteText, importRobustBench, importRobustBenchFile, randomizedKind } from '../src';
import { FIXTURES } from './helpers';

describe('RobustBench model_info import', () => {
  const now = new Date('2025-02-03T04:05:06.000Z');

  it('converts a model_info directory into reported entries with numbers as numbers', () => {
    const res = importRobustBench(path.join(FIXTURES, 'model_info'), { now });
    expect(res.skipped).to.deep.equal([]);
    const byId = new Map(res.entries.map(({ entry }) => [entry.id, entry]));
    expect([...byId.keys()].sort()).to.deep.equal([
      'robustbench-Example2020Overfit_R18',
      'robustbench-Example2020Stochastic',
      'robustbench-Example2021Robust_WRN-28-10',
      'robustbench-Standard',
    ]);
    const e = byId.get('robustbench-Example2021Robust_WRN-28-10')!;
    expect(e.kind).to.equal('reported');
    expect(e.name).to.equal('Example2021Robust_WRN-28-10 (WideResNet-28-10)');
    expect(e.threatModel).to.deep.equal({ id: 'linf-8_255', norm: 'linf', eps: { value: 8 / 255, display: '8/255' } });
    expect(e.results.clean!.value).to.equal(88.54);
    expect(e.results.robust!.value).to.equal(60.97);
    expect(e.values.reported).to.include({ clean: 88.54, robust: 62.8 });
    expect(e.values.bestKnown!.robust).to.equal(60.97);
    expect(e.flags).to.include({ forwardPasses: 1, unreliable: false, additionalData: true });
    expect(e.defense.family).to.equal('at');
    expect(e.paper).to.deep.equal({
      title: 'An Example of Adversarial Training with Extra Data',
      authors: 'A. Author, B. Author',
      url: 'https://arxiv.org/abs/0000.00001',
      venue: 'NeurIPS 2021',
    });
    expect(e.provenance).to.include({ source: 'robustbench import', importedAt: '2025-02-03T04:05:06.000Z' });
    expect(e.provenance.importedFrom).to.equal('model_info/cifar10/Linf/Example2021Robust_WRN-28-10.json');
  });

  it('lets `external` override autoattack_acc as best known, keeps unreliable and cleans the footnote', () => {
    const e = importRobustBenchFile(path.join(FIXTURES, 'model_info/cifar10/Linf/Example2020Stochastic.json'), { now });
    expect(e.values.measured!.robust).to.equal(21.3);
    expect(e.values.bestKnown).to.include({ robust: 6.4 });
    expect(e.values.bestKnown!.source).to.match(/external/);
    expect(e.results.robust!.value).to.equal(6.4);
    expect(e.results.attacks.map((a) => [a.id, a.accuracy.value])).to.deep.equal([
      ['autoattack', 21.3],
      ['external', 6.4],
    ]);
    expect(e.flags.unreliable).to.equal(true);
    expect(e.flags.forwardPasses).to.equal(10);
    expect(e.threatModel.id).to.equal('linf-0.031');
    expect(e.threatModel.eps).to.deep.equal({ value: 0.031, display: '0.031' });
    expect(e.footnote).to.equal('Uses Linf = 0.031 instead of 8/255.\n6.40% robust accuracy is due to an adaptive evaluation.');
  });

  it('reads L2 budgets, an empty `reported`, and the standard model as undefended', () => {
    const res = importRobustBench(path.join(FIXTURES, 'model_info'), { now });
    const l2 = res.entries.find((x) => x.entry.id === 'robustbench-Example2020Overfit_R18')!.entry;
    expect(l2.threatModel).to.deep.equal({ id: 'l2-0.5', norm: 'l2', eps: { value: 0.5, display: '0.5' } });
    expect(l2.values.reported).to.equal(null);
    const std = res.entries.find((x) => x.entry.id === 'robustbench-Standard')!.entry;
    expect(std.defense.family).to.equal('none');
    expect(std.results.robust!.value).to.equal(0);
  });

  it('names the file and field of malformed input', () => {
    expect(() => importRobustBenchFile(path.join(FIXTURES, 'bad/string-number.json'))).to.throw(DataFormatError, /threat model/);
    expect(() => importRobustBenchFile(path.join(FIXTURES, 'bad/string-number.json'), { threat: 'Linf' })).to.throw(
      DataFormatError,
      /string-number\.json: field 'clean_acc' is "89,5%"/,
    );
    expect(() => importRobustBenchFile(path.join(FIXTURES, 'bad/bad-eps.json'), { threat: 'Linf' })).to.throw(
      DataFormatError,
      /bad-eps\.json.*eps/,
    );
    expect(() => importRobustBench(path.join(FIXTURES, 'bad/bad-eps.json'), { threat: 'Linf' })).to.throw(DataFormatError);
    const dir = importRobustBench(path.join(FIXTURES, 'bad'), { threat: 'Linf' });
    expect(dir.entries).to.have.length(0);
    expect(dir.skipped.map((s) => path.basename(s.source))).to.deep.equal(['bad-eps.json', 'string-number.json']);
    expect(() => importRobustBenchFile(path.join(FIXTURES, 'bad/bad-eps.json'), { threat: 'L3' })).to.throw(/not one of Linf, L2/);
  });

  it('imports randomized defenses as randomized, never as adversarial training; DBP ones as family dbp', () => {
    const stochastic = importRobustBenchFile(path.join(FIXTURES, 'model_info/cifar10/Linf/Example2020Stochastic.json'), { now });
    expect(stochastic.flags.randomized).to.equal(true);
    expect(stochastic.defense.family).to.equal('none');
    expect(stochastic.defense.capabilities).to.deep.equal({ stochastic: true });
    expect(stochastic.flags.sanity.map((f) => f.id)).to.deep.equal(['randomized-defense']);
    expect(stochastic.flags.sanity[0].message).to.match(/described as randomized, 10 forward passes per prediction/);
    const res = importRobustBench(path.join(FIXTURES, 'model_info_randomized'), { now });
    expect(res.skipped).to.deep.equal([]);
    const byId = new Map(res.entries.map(({ entry }) => [entry.id, entry]));
    const dbp = byId.get('robustbench-Example2022Purification_WRN-28-10')!;
    expect(dbp.defense.family).to.equal('dbp');
    expect(dbp.flags).to.include({ randomized: true, forwardPasses: 101, unreliable: true });
    expect(dbp.flags.sanity[0].message).to.match(/diffusion\/purification defense, 101 forward passes per prediction.*external evaluation/);
    expect(dbp.results.robust!.value).to.equal(46.84);
    expect(dbp.paper).to.deep.equal({
      title: 'An Example of Diffusion-Based Adversarial Purification',
      authors: 'F. Author, G. Author',
      url: 'https://arxiv.org/abs/0000.00005',
      venue: 'ICML 2022',
    });
    // Deterministic models (one forward pass, nothing said of randomness) stay adversarial training.
    const at = byId.get('robustbench-Example2019Deterministic_R18')!;
    expect(at.defense.family).to.equal('at');
    expect(at.flags.randomized).to.equal(null);
    expect(at.defense.capabilities).to.equal(null);
    expect(at.flags.sanity).to.deep.equal([]);
    const ex = importRobustBenchFile(path.join(FIXTURES, 'model_info/cifar10/Linf/Example2021Robust_WRN-28-10.json'), { now });
    expect([ex.defense.family, ex.flags.randomized]).to.deep.equal(['at', null]);
  });

  it('tells randomized and DBP defenses from their RobustBench fields', () => {
    expect(randomizedKind('X2020', { number_forward_passes: 1, name: 'Robust training' })).to.deep.include({
      randomized: false,
      dbp: false,
    });
    expect(randomizedKind('X2020', { number_forward_passes: 4 })).to.deep.include({ randomized: true, dbp: false });
    expect(randomizedKind('X2020', { name: 'Stochastic activation pruning' })).to.deep.include({ randomized: true, dbp: false });
    expect(randomizedKind('Nie2022DiffPure', {})).to.deep.include({ randomized: true, dbp: true });
    expect(randomizedKind('X2021', { name: 'Adversarial purification with score-based generative models' })).to.deep.include({
      randomized: true,
      dbp: true,
    });
    expect(randomizedKind('X2021', { footnote: 'Uses a denoising diffusion model.' })).to.deep.include({ dbp: true });
  });

  it('strips HTML from footnotes', () => {
    expect(footnoteText('a<br>b <a href="x">c</a> &amp; d')).to.equal('a\nb c & d');
  });
});
