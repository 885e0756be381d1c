import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, SanityCheckError, type Defense } from '@dbp-bench/framework';
import { analyzeLandscape, landscapeSvg, writeLandscapeReport } from '../src/analysis/landscape';
import { cosine, meanPairwiseCosine, pca } from '../src/analysis/pca';
import { colormap, figure, niceTicks } from '../src/analysis/svg';
import { AnalysisStopped } from '../src/analysis/stop';
import { analyzeTrajectories, trajectorySvg, writeTrajectoryReport, type TrajectoryRunRecord } from '../src/analysis/trajectories';
import { IdentityToyDefense, ToyNoiseDefense, syntheticData, trainedMlp } from './helpers';

function wellFormed(svg: string): void {
  expect(svg.startsWith('<svg')).to.equal(true);
  expect(svg.trimEnd().endsWith('</svg>')).to.equal(true);
  // every opened element is closed (self-closing or with an end tag)
  const opened = (svg.match(/<(?!\/)[a-zA-Z]+[^>]*[^/]>/g) ?? []).length;
  const closed = (svg.match(/<\/[a-zA-Z]+>/g) ?? []).length;
  expect(opened).to.equal(closed);
  expect(svg).to.not.match(/NaN/);
}

describe('analysis helpers', () => {
  it('PCA by power iteration recovers the principal axes and explained variance', () => {
    // points on the line t*(3,4,0) plus small variation along (0,0,1)
    const rows = [-2, -1, 0, 1, 2].flatMap((t) => [-1, 1].map((s) => [3 * t, 4 * t, 0.5 * s]));
    const p = pca(rows, 2);
    expect(Math.abs(cosine(p.components[0], [3, 4, 0]))).to.be.closeTo(1, 1e-9);
    expect(Math.abs(cosine(p.components[1], [0, 0, 1]))).to.be.closeTo(1, 1e-9);
    const total = 2 * (4 + 1 + 0 + 1 + 4) * 25 + 10 * 0.25;
    expect(p.explained[0]).to.be.closeTo((2 * (4 + 1 + 0 + 1 + 4) * 25) / total, 1e-9);
    expect(p.explained[0] + p.explained[1]).to.be.closeTo(1, 1e-9);
    expect(p.projections[0][0]).to.be.closeTo(-10, 1e-9);
    // degenerate: no variance at all
    const z = pca(
      [
        [1, 1],
        [1, 1],
      ],
      2,
    );
    expect(z.explained).to.deep.equal([0, 0]);
  });

  it('cosines', () => {
    expect(cosine([1, 0], [0, 2])).to.equal(0);
    expect(cosine([1, 1], [2, 2])).to.be.closeTo(1, 1e-12);
    expect(cosine([0, 0], [1, 2])).to.equal(0);
    expect(
      meanPairwiseCosine([
        [1, 0],
        [0, 1],
        [1, 0],
      ]),
    ).to.be.closeTo(1 / 3, 1e-12);
    expect(meanPairwiseCosine([[1, 0]])).to.equal(null);
  });

  it('SVG building blocks: ticks, colours, a well-formed figure', () => {
    expect(niceTicks(0, 1, 5)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-3, 17, 4)).to.deep.equal([0, 5, 10, 15]);
    expect(colormap(0)).to.equal('#440154');
    expect(colormap(1)).to.equal('#fde725');
    const svg = figure(
      [
        {
          kind: 'line',
          title: 'a & b',
          xLabel: 'x',
          yLabel: 'y',
          series: [
            {
              name: 's<1>',
              points: [
                [0, 1],
                [1, 2],
              ],
              color: '#000',
            },
          ],
        },
        {
          kind: 'heatmap',
          title: 'h',
          xLabel: 'u',
          yLabel: 'v',
          xs: [0, 1],
          ys: [0, 1],
          values: [
            [0, 1],
            [2, 3],
          ],
          colorLabel: 'L',
        },
      ],
      { title: 'T', caption: ['c'] },
    );
    wellFormed(svg);
    expect(svg).to.contain('a &amp; b');
    expect(svg).to.contain('s&lt;1&gt;');
  });
});

describe('stochasticity analyses (ALGORITHMS.md §10) on a toy defense', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-attacks-analysis-'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('trajectories: records every iterate of every run, projects, scores and plots them', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.2);
    const { x, labels } = syntheticData(1, 31);
    const before = tf.memory().numTensors;
    const steps = 3;
    const report = await analyzeTrajectories(classifier, defense, x, labels[0], 17, {
      eps: 0.05,
      stepSize: 0.02,
      steps,
      runs: 2,
      eotSamples: 3,
      lossDraws: 2,
      seed: 4,
    });
    expect(tf.memory().numTensors).to.equal(before);
    expect(report.runs.map((r) => r.group)).to.deep.equal(['white-box', 'white-box', 'white-box-eot', 'white-box-eot', 'dw-box']);
    for (const r of report.runs) {
      expect(r.projection).to.have.length(steps + 1);
      expect(r.loss).to.have.length(steps + 1);
      expect(r.linf[0]).to.equal(0);
      expect(Math.max(...r.linf)).to.be.at.most(0.05 * 255 + 1e-3);
    }
    // all runs start at delta = 0: the same projected point and the same loss
    const p0 = report.runs[0].projection[0];
    for (const r of report.runs) {
      expect(r.projection[0][0]).to.be.closeTo(p0[0], 1e-9);
      expect(r.loss[0]).to.be.closeTo(report.runs[0].loss[0], 1e-6);
    }
    // the attacks raise the loss
    for (const r of report.runs) expect(r.loss[steps]).to.be.greaterThan(r.loss[0]);
    const eotRun = report.runs[2];
    expect(eotRun.eotGradientCosine).to.have.length(steps);
    for (const c of eotRun.eotGradientCosine) expect(c).to.be.a('number').within(-1, 1);
    expect(report.runs[0].eotGradientCosine.every((c) => c === null)).to.equal(true);
    expect(report.runs[4].lossFixedNoise).to.have.length(steps + 1);
    expect(report.summary.cosineWithDw['white-box']).to.have.length(2);
    expect(report.summary.meanEotGradientCosine).to.be.a('number');
    expect(report.pca.explained[0]).to.be.greaterThan(0);
    // stochastic white-box runs with different seeds take different paths
    expect(report.summary.cosineWithinWhiteBox).to.be.lessThan(1 - 1e-6);
    const files = writeTrajectoryReport(report, dir);
    const json = JSON.parse(fs.readFileSync(files.json, 'utf8'));
    expect(json.analysis).to.equal('trajectories');
    expect(json.runs).to.have.length(5);
    const svg = fs.readFileSync(files.svg, 'utf8');
    wellFormed(svg);
    expect(svg).to.contain('DW-box');
    expect(svg).to.contain('Loss per PGD step');
    expect(trajectorySvg(report)).to.equal(svg);
    x.dispose();
  });

  it('landscape: grid over the (u, v) plane with the §10.2 normalisation', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.2);
    const { x, labels } = syntheticData(1, 32);
    const before = tf.memory().numTensors;
    const grid = 3;
    const report = await analyzeLandscape(classifier, defense, x, labels[0], 5, {
      eps: 0.05,
      stepSize: 0.02,
      steps: 3,
      eotSamples: 2,
      grid,
      lossDraws: 2,
      seed: 1,
    });
    expect(tf.memory().numTensors).to.equal(before);
    expect(report.axes.a).to.deep.equal([0, 1, 2]);
    expect(report.lossFixedNoise).to.have.length(grid);
    expect(report.lossFixedNoise[0]).to.have.length(grid);
    expect(report.lossFreshNoise).to.have.length(grid);
    // (1, 0) is the DW-box optimum: the DW trajectory ends there, and starts at the origin
    const dw = report.trajectories.dwBox;
    expect(dw[0]).to.deep.equal([0, 0]);
    expect(dw[dw.length - 1][0]).to.be.closeTo(1, 1e-6);
    expect(dw[dw.length - 1][1]).to.be.closeTo(0, 1e-6);
    // the EoT run ends at (<d_EoT,u>, ||residual||) / unit
    const e = report.trajectories.whiteBoxEot;
    expect(e[e.length - 1][0]).to.be.closeTo(report.axes.eotAlongDw, 1e-6);
    expect(e[e.length - 1][1]).to.be.closeTo(report.axes.residualNorm, 1e-6);
    expect(report.axes.unit).to.be.greaterThan(0);
    // loss at the DW optimum with its fixed noise is above the loss at the clean point
    expect(report.lossFixedNoise[1][0]).to.be.greaterThan(report.lossFixedNoise[0][0]);
    expect(report.notes.join(' ')).to.match(/not re-projected/);
    const files = writeLandscapeReport(report, dir);
    const svg = fs.readFileSync(files.svg, 'utf8');
    wellFormed(svg);
    expect(svg).to.contain('DW-box trajectory');
    expect(landscapeSvg(report)).to.equal(svg);
    expect(JSON.parse(fs.readFileSync(files.json, 'utf8')).analysis).to.equal('landscape');
    x.dispose();
  });

  it('landscape: a zero DW-box perturbation is a sanity error, not a NaN plot; eps 0 is refused up front', async () => {
    const classifier = await trainedMlp();
    const { x, labels } = syntheticData(1, 33);
    // A defense whose output does not depend on its input: every gradient is zero, so is the perturbation.
    const constant: Defense = {
      id: 'toy-constant',
      capabilities: { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 },
      purify: (z: tf.Tensor4D) => tf.tidy(() => tf.add(tf.mul(z, 0), 0.5) as tf.Tensor4D),
    };
    const errorOf = async (defense: Defense, eps: number): Promise<unknown> => {
      try {
        await analyzeLandscape(classifier, defense, x, labels[0], 0, { eps, stepSize: 0.01, steps: 1, grid: 2, lossDraws: 0 });
      } catch (e) {
        return e;
      }
      return undefined;
    };
    expect(await errorOf(constant, 8 / 255)).to.be.instanceOf(SanityCheckError);
    const zero = await errorOf(new IdentityToyDefense(), 0);
    expect(zero).to.be.instanceOf(ConfigValidationError);
    expect((zero as Error).message).to.match(/\$\.eps: must be > 0/);
    x.dispose();
  });
  it('trajectories: a stop request ends it after the current run (AnalysisStopped, no leak); resumed from its runs it gives the uninterrupted report', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.2);
    const { x, labels } = syntheticData(1, 33);
    const opts = { eps: 0.05, stepSize: 0.02, steps: 3, runs: 2, eotSamples: 3, lossDraws: 2, seed: 6 };
    const full = await analyzeTrajectories(classifier, defense, x, labels[0], 9, opts);
    const before = tf.memory().numTensors;
    const kept: TrajectoryRunRecord[] = [];
    let polls = 0;
    const stopped = await analyzeTrajectories(classifier, defense, x, labels[0], 9, {
      ...opts,
      onRun: (r, done, total) => {
        kept.push(r);
        expect([done, total]).to.deep.equal([kept.length, 5]);
      },
      shouldStop: () => ++polls >= 3,
    }).catch((e: unknown) => e);
    expect(stopped).to.be.instanceOf(AnalysisStopped);
    expect(stopped).to.include({ analysis: 'trajectories', done: 3, total: 5 });
    expect(tf.memory().numTensors).to.equal(before);
    expect(kept.map((r) => [r.group, r.seed])).to.deep.equal([
      ['white-box', 7],
      ['white-box', 8],
      ['white-box-eot', 9],
    ]);
    for (const r of kept) expect(r.deltas).to.have.length(4);
    const computed: string[] = [];
    const resumed = await analyzeTrajectories(classifier, defense, x, labels[0], 9, {
      ...opts,
      resume: kept,
      onRun: (r) => computed.push(r.group),
    });
    expect(computed).to.deep.equal(['white-box-eot', 'dw-box']);
    expect(resumed).to.deep.equal(full);
    // runs of another protocol are refused, naming what differs
    const wrong = await analyzeTrajectories(classifier, defense, x, labels[0], 9, { ...opts, steps: 4, resume: kept }).catch(
      (e: unknown) => e,
    );
    expect((wrong as Error).message).to.match(/resumed white-box run with seed 7 has EoT 1 and 4 iterates .* needs EoT 1 and 5 iterates/);
    x.dispose();
  });

  it('landscape: a stop request ends it after an attack run with AnalysisStopped and no leak', async () => {
    const classifier = await trainedMlp();
    const defense = new ToyNoiseDefense(['forward', 'reverse'], 0.2);
    const { x, labels } = syntheticData(1, 34);
    await analyzeLandscape(classifier, defense, x, labels[0], 5, {
      eps: 0.05,
      stepSize: 0.02,
      steps: 2,
      eotSamples: 2,
      grid: 2,
      lossDraws: 1,
    });
    const before = tf.memory().numTensors;
    const e = await analyzeLandscape(classifier, defense, x, labels[0], 5, {
      eps: 0.05,
      stepSize: 0.02,
      steps: 2,
      eotSamples: 2,
      grid: 2,
      lossDraws: 1,
      shouldStop: () => true,
    }).catch((err: unknown) => err);
    expect(e).to.be.instanceOf(AnalysisStopped);
    expect(e).to.include({ analysis: 'landscape', done: 1, total: 3 });
    expect(tf.memory().numTensors).to.equal(before);
    x.dispose();
  });
});
