/**
 * Loss landscape (ALGORITHMS.md §10.2; paper Fig. 1/2): the loss over the plane spanned by the
 * DW-box direction u = d_DW/||d_DW|| and the residual white-box-EoT direction
 * v = (d_EoT − <d_EoT,u>u)/||d_EoT − <d_EoT,u>u||, in units of ||d_DW||_2 (so (1, 0) is the DW-box
 * optimum), on a grid over [0, extent]², with the PGD iterates of both runs projected onto (u, v).
 * Grid points are x + unit·(a·u + b·v) clipped to [0, 1] and NOT re-projected to the l_inf ball.
 * Loss = CE of the classifier on the purified point with the DW-box (DW_Both) fixed noise, and also
 * averaged over `lossDraws` other noise draws shared by all grid points.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  SanityCheckError,
  SeededRng,
  createTarget,
  silentLogger,
  writeFileAtomic,
  writeJsonAtomic,
  type Classifier,
  type Defense,
  type Logger,
  formatNumber,
} from '@dbp-bench/framework';
import { DwBoxAttack } from '../attack/dw-box';
import { PgdAttack } from '../attack/pgd';
import type { StepInfo } from '../types';
import { dot, norm2 } from './pca';
import { analysisNoise, pointLosses } from './point-loss';
import { AnalysisStopped, stopPoint } from './stop';
import { figure, sharedRange, type Series } from './svg';

export interface LandscapeOptions {
  readonly eps?: number;
  readonly stepSize?: number;
  readonly steps?: number;
  /** EoT samples of the white-box-EoT run (default 10). */
  readonly eotSamples?: number;
  /** Grid points per axis (default 21). */
  readonly grid?: number;
  /** Axis range [0, extent] in units of ||d_DW||_2 (default 2). */
  readonly extent?: number;
  /** Draws of the fresh-noise expectation (default 16; 0 = skip). */
  readonly lossDraws?: number;
  readonly seed?: number;
  readonly microBatch?: number;
  readonly logger?: Logger;
  /** Polled after each of the two attack runs: true stops the analysis there (AnalysisStopped; no report). */
  readonly shouldStop?: () => boolean;
}

export interface LandscapeReport {
  readonly analysis: 'landscape';
  readonly protocol: {
    readonly norm: 'linf';
    readonly eps: number;
    readonly stepSize: number;
    readonly steps: number;
    readonly eotSamples: number;
    readonly grid: number;
    readonly extent: number;
    readonly lossDraws: number;
    readonly seed: number;
    readonly normalization: string;
  };
  readonly sample: { readonly index: number; readonly label: number };
  readonly defense: { readonly id: string; readonly stochastic: boolean; readonly streams: readonly string[] };
  readonly axes: {
    readonly a: number[];
    readonly b: number[];
    /** ||d_DW||_2 in [0,1] pixel units (the length of one axis unit). */
    readonly unit: number;
    /** ||residual||_2 / unit, <d_EoT, u>/unit, and cos(d_DW, d_EoT). */
    readonly residualNorm: number;
    readonly eotAlongDw: number;
    readonly cosineDwEot: number;
  };
  /** lossFixedNoise[i][j] at (a[i], b[j]). */
  readonly lossFixedNoise: number[][];
  /** Mean over lossDraws noise draws, or null when lossDraws = 0. */
  readonly lossFreshNoise: number[][] | null;
  /** PGD iterates projected on (u, v) / unit, k = 0..steps. */
  readonly trajectories: { readonly dwBox: [number, number][]; readonly whiteBoxEot: [number, number][] };
  readonly notes: string[];
  /** What the command that made it was given (`dbp-bench analyze` records it to recognise a rerun). */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

/** Run the §10.2 protocol on one image `x` [1, H, W, C]. */
export async function analyzeLandscape(
  classifier: Classifier,
  defense: Defense,
  x: tf.Tensor4D,
  label: number,
  index: number,
  options: LandscapeOptions = {},
): Promise<LandscapeReport> {
  if (x.shape[0] !== 1) throw new RangeError(`analyzeLandscape: expected one image [1,H,W,C], got [${x.shape.join(',')}]`);
  const eps = options.eps ?? 8 / 255;
  const stepSize = options.stepSize ?? 2 / 255;
  const steps = options.steps ?? 20;
  const K = options.eotSamples ?? 10;
  const G = options.grid ?? 21;
  const extent = options.extent ?? 2;
  const D = options.lossDraws ?? 16;
  const seed = options.seed ?? 0;
  const mb = options.microBatch ?? 16;
  const logger = options.logger ?? silentLogger;
  if (!Number.isInteger(G) || G < 2) throw new RangeError(`analyzeLandscape: grid must be an integer >= 2 (got ${G})`);
  const notes: string[] = ['grid points are clipped to [0,1] but not re-projected to the l_inf ball'];
  const y = tf.tensor1d([label], 'int32');
  const pgdOpts = { norm: 'linf' as const, eps, stepSize, steps, randomStart: false, restarts: 1, loss: 'ce' as const };
  const dwTarget = createTarget(classifier, defense, { policy: 'both', seed });
  const eotTarget = createTarget(classifier, defense, { policy: 'fresh', seed: seed + 1 });
  const record = async (attack: PgdAttack, target: typeof dwTarget): Promise<Float32Array[]> => {
    const deltas: Float32Array[] = [new Float32Array(x.size)];
    const onStep = (info: StepInfo): void => {
      const d = tf.tidy(() => tf.sub(info.xAdv, info.x));
      deltas.push(d.dataSync() as Float32Array);
      d.dispose();
    };
    const adv = await attack.perturb(target, x, y, { logger: silentLogger, sampleIndices: [index], seed, onStep } as Parameters<
      PgdAttack['perturb']
    >[3]);
    adv.dispose();
    return deltas;
  };
  const bar = logger.progress('landscape', 2 + G * G);
  let dwPath: Float32Array[];
  let eotPath: Float32Array[];
  const dw = new DwBoxAttack({ ...pgdOpts, policy: 'both', eot: { samples: 1, microBatch: mb } });
  // units: the two attack runs and the grid evaluation
  const stopped = (done: number) => () => new AnalysisStopped('landscape', done, 3, 'units (attack runs, loss grid)');
  try {
    dwPath = await record(dw, dwTarget);
    bar.tick();
    await stopPoint(options.shouldStop, stopped(1));
    eotPath = await record(new PgdAttack({ ...pgdOpts, eot: { samples: K, microBatch: mb } }), eotTarget);
    bar.tick();
    await stopPoint(options.shouldStop, stopped(2));
  } catch (e) {
    bar.done();
    throw e;
  } finally {
    y.dispose();
  }
  notes.push(...dw.notes);
  const dDw = Float64Array.from(dwPath[dwPath.length - 1]);
  const dEot = Float64Array.from(eotPath[eotPath.length - 1]);
  const unit = norm2(dDw);
  if (!(unit > 1e-12)) {
    bar.done();
    throw new SanityCheckError(
      'zero-gradient',
      `landscape: the DW-box perturbation of sample ${index} is zero on defense '${defense.id}' (zero gradients?); the plane is undefined`,
    );
  }
  const u = dDw.map((v) => v / unit);
  const along = dot(dEot, u);
  const res = dEot.map((v, j) => v - along * u[j]);
  const resNorm = norm2(res);
  let v: Float64Array;
  if (resNorm > 1e-9 * Math.max(unit, norm2(dEot))) {
    v = res.map((r) => r / resNorm);
  } else {
    // The two perturbations are parallel: pick a fixed random direction orthogonal to u.
    const rng = new SeededRng(seed, 'landscape-v');
    const r = Float64Array.from({ length: u.length }, () => rng.normal());
    const s = dot(r, u);
    for (let j = 0; j < r.length; j++) r[j] -= s * u[j];
    const n = norm2(r);
    v = r.map((q) => q / n);
    notes.push('the white-box-EoT perturbation is parallel to the DW-box one: v is a seeded random direction orthogonal to u');
  }
  const axis = Array.from({ length: G }, (_, i) => (extent * i) / (G - 1));
  const [, h, w, c] = x.shape;
  const per = h * w * c;
  const xData = x.dataSync();
  const grid = new Float32Array(G * G * per);
  for (let i = 0; i < G; i++) {
    for (let j = 0; j < G; j++) {
      const off = (i * G + j) * per;
      const a = axis[i] * unit;
      const b = axis[j] * unit;
      for (let q = 0; q < per; q++) grid[off + q] = Math.min(1, Math.max(0, xData[q] + a * u[q] + b * v[q]));
    }
  }
  const points = tf.tensor4d(grid, [G * G, h, w, c]);
  let fixed: Float64Array;
  let fresh: Float64Array | null = null;
  try {
    fixed = pointLosses(classifier, defense, points, label, index, 1, (rows) => dwTarget.noise(rows), mb);
    if (D > 0) fresh = pointLosses(classifier, defense, points, label, index, D, analysisNoise(seed, 'landscape-loss'), mb);
    bar.tick(G * G);
  } finally {
    points.dispose();
    bar.done();
  }
  const toGrid = (f: Float64Array): number[][] => axis.map((_, i) => axis.map((__, j) => f[i * G + j]));
  const project = (ds: Float32Array[]): [number, number][] => ds.map((d) => [dot(d, u) / unit, dot(d, v) / unit]);
  return {
    analysis: 'landscape',
    protocol: {
      norm: 'linf',
      eps,
      stepSize,
      steps,
      eotSamples: K,
      grid: G,
      extent,
      lossDraws: D,
      seed,
      normalization:
        'u = d_DW/||d_DW||_2, v = residual of d_EoT orthogonal to u (normalised); axis unit = ||d_DW||_2, so (1, 0) is the DW-box optimum',
    },
    sample: { index, label },
    defense: { id: defense.id, stochastic: defense.capabilities.stochastic, streams: [...defense.capabilities.streams] },
    axes: {
      a: axis,
      b: axis,
      unit,
      residualNorm: resNorm / unit,
      eotAlongDw: along / unit,
      cosineDwEot: along / Math.max(norm2(dEot), 1e-300),
    },
    lossFixedNoise: toGrid(fixed),
    lossFreshNoise: fresh ? toGrid(fresh) : null,
    trajectories: { dwBox: project(dwPath), whiteBoxEot: project(eotPath) },
    notes,
  };
}

/** The SVG figure: heatmap(s) of the loss with both trajectories overlaid. */
export function landscapeSvg(report: LandscapeReport): string {
  const overlays: Series[] = [
    { name: 'DW-box trajectory', points: report.trajectories.dwBox, color: '#ff3b30', width: 2.2, markers: true },
    { name: 'White-box-EoT trajectory', points: report.trajectories.whiteBoxEot, color: '#4fc3ff', width: 2.2, markers: true },
  ];
  // Both maps on one colour scale: the same colour is the same loss in both panels.
  const colorRange = sharedRange(report.lossFreshNoise ? [report.lossFixedNoise, report.lossFreshNoise] : [report.lossFixedNoise]);
  const base = {
    colorRange,
    xLabel: 'DW-box attack direction (units of ||d_DW||_2)',
    yLabel: 'residual direction',
    xs: report.axes.a,
    ys: report.axes.b,
    overlays,
  };
  const panels = [
    {
      kind: 'heatmap' as const,
      title: 'Loss with the DW-box fixed noise',
      colorLabel: 'cross-entropy',
      values: report.lossFixedNoise,
      ...base,
    },
  ];
  if (report.lossFreshNoise) {
    panels.push({
      kind: 'heatmap' as const,
      title: `Loss, mean of ${report.protocol.lossDraws} other noise draws`,
      colorLabel: 'cross-entropy (scale shared with the left map)',
      values: report.lossFreshNoise,
      ...base,
    });
  }
  const pr = report.protocol;
  return figure(panels, {
    title: `Loss landscape: defense ${report.defense.id}, sample ${report.sample.index} (label ${report.sample.label}), l_inf ${(pr.eps * 255).toFixed(1)}/255`,
    caption: [
      `||d_DW||_2 = ${report.axes.unit.toFixed(4)} ([0,1] units); cos(d_DW, d_EoT) = ${formatNumber(report.axes.cosineDwEot)}; residual norm = ${formatNumber(report.axes.residualNorm)} units`,
      ...(report.lossFreshNoise
        ? [
            `Both maps share one colour scale: cross-entropy ${formatNumber(colorRange[0])} (dark) to ${formatNumber(colorRange[1])} (bright).`,
          ]
        : []),
      ...report.notes,
    ],
  });
}

/** The files of the landscape report in `outDir`: `landscape.json` and `landscape.svg`. */
export function landscapeReportFiles(outDir: string): { json: string; svg: string } {
  return { json: path.join(outDir, 'landscape.json'), svg: path.join(outDir, 'landscape.svg') };
}

/** Write `landscape.json` and `landscape.svg` into `outDir` (atomically). */
export function writeLandscapeReport(report: LandscapeReport, outDir: string): { json: string; svg: string } {
  const { json, svg } = landscapeReportFiles(outDir);
  writeJsonAtomic(json, report);
  writeFileAtomic(svg, landscapeSvg(report));
  return { json, svg };
}
