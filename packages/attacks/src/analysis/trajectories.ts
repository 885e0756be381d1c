/**
 * Attack trajectories (ALGORITHMS.md §10.1; paper Fig. 1/3): white-box runs with different seeds
 * (EoT 1), white-box-EoT runs, and one DW-box run (DW_Both), all PGD l_inf from delta = 0 on one image.
 * Every iterate delta_k (k = 0..steps) is recorded; the report gives
 * - a 2-D PCA projection of all iterates (flattened, in 0..255 pixel units),
 * - the loss of every iterate: CE of the classifier on the purified x + delta_k averaged over
 *   `lossDraws` noise draws (the same draws for every point), and for the DW-box run also with its
 *   fixed noise,
 * - cosine similarities of the final perturbations (within groups and with the DW-box one) and the
 *   mean pairwise cosine of the per-step EoT replica gradients.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  createTarget,
  silentLogger,
  writeFileAtomic,
  writeJsonAtomic,
  type Classifier,
  type Defense,
  type Logger,
  type PolicyTarget,
  formatNumber,
} from '@dbp-bench/framework';
import { DwBoxAttack } from '../attack/dw-box';
import { PgdAttack } from '../attack/pgd';
import type { StepInfo } from '../types';
import { cosine, meanPairwiseCosine, pca } from './pca';
import { analysisNoise, pointLosses } from './point-loss';
import { AnalysisStopped, stopPoint } from './stop';
import { figure, type Series } from './svg';

export interface TrajectoryOptions {
  /** l_inf budget and step size in [0,1] units (default 8/255, 2/255). */
  readonly eps?: number;
  readonly stepSize?: number;
  /** PGD iterations (default 20). */
  readonly steps?: number;
  /** Runs per stochastic group (default 10). */
  readonly runs?: number;
  /** EoT samples of the white-box-EoT runs (default 10). */
  readonly eotSamples?: number;
  /** Noise draws averaged for the loss of a point (default 16). */
  readonly lossDraws?: number;
  readonly seed?: number;
  /** Rows per forward(+backward) pass (default 16). */
  readonly microBatch?: number;
  readonly logger?: Logger;
  /** Polled after every attack run: true stops the analysis there (AnalysisStopped; no report). */
  readonly shouldStop?: () => boolean;
  /**
   * Runs an earlier call with the same inputs finished (what its `onRun` got): they are not computed
   * again, so a resumed analysis gives the report of an uninterrupted one.
   */
  readonly resume?: readonly TrajectoryRunRecord[];
  /** Called after every attack run this call computes, with the runs finished so far and in all. */
  readonly onRun?: (run: TrajectoryRunRecord, done: number, total: number) => void;
}

/** One finished attack run of the analysis: what the report is computed from. */
export interface TrajectoryRunRecord {
  readonly group: TrajectoryGroup;
  readonly seed: number;
  readonly eot: number;
  /** delta_0..delta_steps, flattened, in 0..255 pixel units. */
  readonly deltas: readonly Float32Array[];
  /** Per step: mean pairwise cosine of the EoT replica gradients. */
  readonly eotGradientCosine: readonly (number | null)[];
  /** What the attack noted (DW-box: e.g. that DW_Fwd equals DW_Both). */
  readonly notes: readonly string[];
}

export type TrajectoryGroup = 'white-box' | 'white-box-eot' | 'dw-box';

export interface TrajectoryRun {
  readonly group: TrajectoryGroup;
  /** Seed of the run's noise (fresh streams for white-box runs, keyed streams for DW-box). */
  readonly seed: number;
  readonly eot: number;
  /** PCA coordinates of delta_0..delta_steps. */
  readonly projection: [number, number][];
  /** Mean CE over the shared noise draws, per iterate. */
  readonly loss: number[];
  /** DW-box run only: CE with its own fixed (keyed) noise, per iterate. */
  readonly lossFixedNoise?: number[];
  /** Per iterate ||delta||_inf and ||delta||_2, in 0..255 pixel units. */
  readonly linf: number[];
  readonly l2: number[];
  /** Per step: mean pairwise cosine of the EoT replica gradients (EoT > 1 on a stochastic target). */
  readonly eotGradientCosine: (number | null)[];
}

export interface TrajectoryReport {
  readonly analysis: 'trajectories';
  readonly protocol: {
    readonly norm: 'linf';
    readonly eps: number;
    readonly stepSize: number;
    readonly steps: number;
    readonly runs: number;
    readonly eotSamples: number;
    readonly lossDraws: number;
    readonly seed: number;
    readonly projection: string;
    readonly loss: string;
  };
  readonly sample: { readonly index: number; readonly label: number };
  readonly defense: { readonly id: string; readonly stochastic: boolean; readonly streams: readonly string[] };
  readonly pca: { readonly explained: number[]; readonly iterations: number[] };
  readonly runs: TrajectoryRun[];
  readonly summary: {
    readonly finalLoss: Record<TrajectoryGroup, { mean: number; min: number; max: number }>;
    readonly dwFinalLossFixedNoise: number;
    /** Mean pairwise cosine of final deltas within a group. */
    readonly cosineWithinWhiteBox: number | null;
    readonly cosineWithinWhiteBoxEot: number | null;
    /** Cosine of each run's final delta with the DW-box final delta. */
    readonly cosineWithDw: Record<'white-box' | 'white-box-eot', number[]>;
    /** Mean over steps and EoT runs of the pairwise cosine of replica gradients. */
    readonly meanEotGradientCosine: number | null;
  };
  readonly notes: string[];
  /** What the command that made it was given (`dbp-bench analyze` records it to recognise a rerun). */
  readonly inputs?: Readonly<Record<string, unknown>>;
}

interface Recorded {
  group: TrajectoryGroup;
  seed: number;
  eot: number;
  deltas: readonly Float32Array[];
  egc: readonly (number | null)[];
  target: PolicyTarget;
}

/** Rows of a [K, ...] tensor as flat arrays. */
function rowsOf(t: tf.Tensor): Float32Array[] {
  const d = t.dataSync() as Float32Array;
  const k = t.shape[0];
  const per = d.length / k;
  return Array.from({ length: k }, (_, i) => d.slice(i * per, (i + 1) * per));
}

/**
 * Run the §10.1 protocol on one image `x` [1, H, W, C] with label `label` (dataset index `index`).
 */
export async function analyzeTrajectories(
  classifier: Classifier,
  defense: Defense,
  x: tf.Tensor4D,
  label: number,
  index: number,
  options: TrajectoryOptions = {},
): Promise<TrajectoryReport> {
  if (x.shape[0] !== 1) throw new RangeError(`analyzeTrajectories: expected one image [1,H,W,C], got [${x.shape.join(',')}]`);
  const eps = options.eps ?? 8 / 255;
  const stepSize = options.stepSize ?? 2 / 255;
  const steps = options.steps ?? 20;
  const runs = options.runs ?? 10;
  const K = options.eotSamples ?? 10;
  const D = options.lossDraws ?? 16;
  const seed = options.seed ?? 0;
  const mb = options.microBatch ?? 16;
  const logger = options.logger ?? silentLogger;
  const y = tf.tensor1d([label], 'int32');
  const notes: string[] = [];
  const recorded: Recorded[] = [];
  const pgdOpts = { norm: 'linf' as const, eps, stepSize, steps, randomStart: false, restarts: 1, loss: 'ce' as const };
  const jobs: { group: TrajectoryGroup; seed: number; eot: number }[] = [
    ...Array.from({ length: runs }, (_, r) => ({ group: 'white-box' as const, seed: seed + 1 + r, eot: 1 })),
    ...Array.from({ length: runs }, (_, r) => ({ group: 'white-box-eot' as const, seed: seed + 1 + runs + r, eot: K })),
    { group: 'dw-box' as const, seed, eot: 1 },
  ];
  const prior = jobs.map((job) => {
    const r = options.resume?.find((q) => q.group === job.group && q.seed === job.seed);
    if (r && (r.eot !== job.eot || r.deltas.length !== steps + 1 || r.deltas.some((d) => d.length !== x.size))) {
      throw new RangeError(
        `analyzeTrajectories: the resumed ${job.group} run with seed ${job.seed} has EoT ${r.eot} and ${r.deltas.length} iterates of ` +
          `${r.deltas[0]?.length ?? 0} values; this analysis needs EoT ${job.eot} and ${steps + 1} iterates of ${x.size}`,
      );
    }
    return r;
  });
  const bar = logger.progress('trajectories', jobs.length, prior.filter(Boolean).length);
  try {
    for (const [k, job] of jobs.entries()) {
      const isDw = job.group === 'dw-box';
      const target = createTarget(classifier, defense, { policy: isDw ? 'both' : 'fresh', seed: job.seed });
      const done = prior[k];
      if (done) {
        notes.push(...done.notes);
        recorded.push({ ...job, deltas: done.deltas, egc: done.eotGradientCosine, target });
        continue;
      }
      const attack = isDw
        ? new DwBoxAttack({ ...pgdOpts, policy: 'both', eot: { samples: 1, microBatch: mb } })
        : new PgdAttack({ ...pgdOpts, eot: { samples: job.eot, microBatch: mb } });
      const deltas: Float32Array[] = [new Float32Array(x.size)];
      const egc: (number | null)[] = [];
      const onStep = (info: StepInfo): void => {
        const d = tf.tidy(() => tf.mul(tf.sub(info.xAdv, info.x), 255));
        deltas.push(d.dataSync() as Float32Array);
        d.dispose();
        egc.push(info.replicaGrads && info.replicaGrads.shape[0] > 1 ? meanPairwiseCosine(rowsOf(info.replicaGrads)) : null);
      };
      const adv = await attack.perturb(target, x, y, {
        logger: silentLogger,
        sampleIndices: [index],
        seed: job.seed,
        onStep,
        recordReplicaGradients: job.eot > 1,
      } as Parameters<PgdAttack['perturb']>[3]);
      adv.dispose();
      const runNotes = isDw ? [...(attack as DwBoxAttack).notes] : [];
      notes.push(...runNotes);
      recorded.push({ ...job, deltas, egc, target });
      options.onRun?.({ ...job, deltas, eotGradientCosine: egc, notes: runNotes }, recorded.length, jobs.length);
      bar.tick();
      if (recorded.length < jobs.length)
        await stopPoint(options.shouldStop, () => new AnalysisStopped('trajectories', recorded.length, jobs.length, 'attack runs'));
    }
  } finally {
    bar.done();
    y.dispose();
  }

  // Losses of all iterates with shared noise draws, and the DW run with its own fixed noise.
  const all = recorded.flatMap((r) => r.deltas);
  const [, h, w, c] = x.shape;
  const points = tf.tidy(() => {
    const d = tf.tensor4d(concatRows(all), [all.length, h, w, c]);
    return tf.clipByValue(tf.add(x, tf.div(d, 255)), 0, 1) as tf.Tensor4D;
  });
  let losses: Float64Array;
  let dwFixed: Float64Array;
  try {
    losses = pointLosses(classifier, defense, points, label, index, D, analysisNoise(seed, 'trajectory-loss'), mb);
    const dw = recorded[recorded.length - 1];
    const dwStart = all.length - dw.deltas.length;
    const dwPoints = tf.tidy(() => points.slice([dwStart, 0, 0, 0], [dw.deltas.length, h, w, c]));
    try {
      dwFixed = pointLosses(classifier, defense, dwPoints, label, index, 1, (rows) => dw.target.noise(rows), mb);
    } finally {
      dwPoints.dispose();
    }
  } finally {
    points.dispose();
  }

  const p = pca(all, 2, { seed });
  let offset = 0;
  const runsOut: TrajectoryRun[] = recorded.map((r) => {
    const n = r.deltas.length;
    const proj = p.projections.slice(offset, offset + n).map((q) => [q[0], q[1]] as [number, number]);
    const loss = Array.from(losses.subarray(offset, offset + n));
    offset += n;
    const linf = r.deltas.map((d) => d.reduce((a, v) => Math.max(a, Math.abs(v)), 0));
    const l2 = r.deltas.map((d) => Math.sqrt(d.reduce((a, v) => a + v * v, 0)));
    return {
      group: r.group,
      seed: r.seed,
      eot: r.eot,
      projection: proj,
      loss,
      ...(r.group === 'dw-box' ? { lossFixedNoise: Array.from(dwFixed) } : {}),
      linf,
      l2,
      eotGradientCosine: [...r.egc],
    };
  });

  const final = (g: TrajectoryGroup): Float32Array[] => recorded.filter((r) => r.group === g).map((r) => r.deltas[r.deltas.length - 1]);
  const dwFinal = final('dw-box')[0];
  const stats = (g: TrajectoryGroup): { mean: number; min: number; max: number } => {
    const v = runsOut.filter((r) => r.group === g).map((r) => r.loss[r.loss.length - 1]);
    return v.length
      ? { mean: v.reduce((a, b) => a + b, 0) / v.length, min: Math.min(...v), max: Math.max(...v) }
      : { mean: NaN, min: NaN, max: NaN };
  };
  const egcAll = runsOut
    .filter((r) => r.group === 'white-box-eot')
    .flatMap((r) => r.eotGradientCosine.filter((v): v is number => v !== null));
  if (!defense.capabilities.stochastic)
    notes.push(`defense '${defense.id}' is deterministic: all runs coincide and EoT replicas are identical`);
  if (egcAll.length === 0 && runs > 0 && K > 1)
    notes.push('no EoT gradient cosines: the target has no fresh randomness, so EoT was reduced to one replica');
  return {
    analysis: 'trajectories',
    protocol: {
      norm: 'linf',
      eps,
      stepSize,
      steps,
      runs,
      eotSamples: K,
      lossDraws: D,
      seed,
      projection: 'PCA (2 components, power iteration) fitted on all recorded delta_k, flattened, in 0..255 pixel units',
      loss: `cross-entropy on the purified x + delta_k, mean over ${D} noise draws shared by all points; DW-box also with its fixed noise`,
    },
    sample: { index, label },
    defense: { id: defense.id, stochastic: defense.capabilities.stochastic, streams: [...defense.capabilities.streams] },
    pca: { explained: p.explained, iterations: p.iterations },
    runs: runsOut,
    summary: {
      finalLoss: { 'white-box': stats('white-box'), 'white-box-eot': stats('white-box-eot'), 'dw-box': stats('dw-box') },
      dwFinalLossFixedNoise: dwFixed[dwFixed.length - 1],
      cosineWithinWhiteBox: meanPairwiseCosine(final('white-box')),
      cosineWithinWhiteBoxEot: meanPairwiseCosine(final('white-box-eot')),
      cosineWithDw: {
        'white-box': final('white-box').map((d) => cosine(d, dwFinal)),
        'white-box-eot': final('white-box-eot').map((d) => cosine(d, dwFinal)),
      },
      meanEotGradientCosine: egcAll.length ? egcAll.reduce((a, b) => a + b, 0) / egcAll.length : null,
    },
    notes,
  };
}

function concatRows(rows: readonly Float32Array[]): Float32Array {
  const per = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, i) => out.set(r, i * per));
  return out;
}

const GROUP_COLORS: Record<TrajectoryGroup, string> = { 'white-box': '#7f8c9a', 'white-box-eot': '#1f5fbf', 'dw-box': '#d62728' };
const GROUP_NAMES: Record<TrajectoryGroup, string> = { 'white-box': 'White-box', 'white-box-eot': 'White-box-EoT', 'dw-box': 'DW-box' };

/** The SVG figure of a trajectory report: PCA projection of the paths, and loss per step. */
export function trajectorySvg(report: TrajectoryReport): string {
  const seen = new Set<TrajectoryGroup>();
  const legendOnce = (g: TrajectoryGroup): boolean => {
    const first = !seen.has(g);
    seen.add(g);
    return !first;
  };
  const proj: Series[] = report.runs.map((r) => ({
    name: `${GROUP_NAMES[r.group]}${r.eot > 1 ? ` (EoT ${r.eot})` : ''}`,
    points: r.projection,
    color: GROUP_COLORS[r.group],
    width: r.group === 'dw-box' ? 2.5 : 1.2,
    markers: true,
    opacity: r.group === 'dw-box' ? 1 : 0.75,
    hideInLegend: legendOnce(r.group),
  }));
  seen.clear();
  const loss: Series[] = report.runs.map((r) => ({
    name: `${GROUP_NAMES[r.group]}${r.eot > 1 ? ` (EoT ${r.eot})` : ''}`,
    points: r.loss.map((v, k) => [k, v] as [number, number]),
    color: GROUP_COLORS[r.group],
    width: r.group === 'dw-box' ? 2.5 : 1.2,
    opacity: r.group === 'dw-box' ? 1 : 0.75,
    hideInLegend: legendOnce(r.group),
  }));
  const dw = report.runs.find((r) => r.group === 'dw-box');
  if (dw?.lossFixedNoise) {
    loss.push({
      name: 'DW-box, its fixed noise',
      points: dw.lossFixedNoise.map((v, k) => [k, v] as [number, number]),
      color: GROUP_COLORS['dw-box'],
      dashed: true,
      width: 2,
    });
  }
  const pr = report.protocol;
  const s = report.summary;
  const f = (v: number | null): string => (v === null || !Number.isFinite(v) ? 'n/a' : formatNumber(v));
  return figure(
    [
      {
        kind: 'line',
        title: `Perturbation paths (PCA, ${(100 * (report.pca.explained[0] + report.pca.explained[1])).toFixed(1)}% variance)`,
        xLabel: `PC1 (${(100 * report.pca.explained[0]).toFixed(1)}%, pixel units 0..255)`,
        yLabel: `PC2 (${(100 * report.pca.explained[1]).toFixed(1)}%)`,
        series: proj,
      },
      { kind: 'line', title: 'Loss per PGD step', xLabel: 'PGD step k', yLabel: `CE, mean of ${pr.lossDraws} noise draws`, series: loss },
    ],
    {
      title: `Attack trajectories: defense ${report.defense.id}, sample ${report.sample.index} (label ${report.sample.label}), l_inf ${(pr.eps * 255).toFixed(1)}/255, ${pr.steps} steps`,
      caption: [
        `final loss: white-box ${f(s.finalLoss['white-box'].mean)}, white-box-EoT ${f(s.finalLoss['white-box-eot'].mean)}, DW-box ${f(s.finalLoss['dw-box'].mean)} (fixed noise ${f(s.dwFinalLossFixedNoise)})`,
        `cosine of final deltas: within white-box ${f(s.cosineWithinWhiteBox)}, within white-box-EoT ${f(s.cosineWithinWhiteBoxEot)}; mean EoT replica-gradient cosine ${f(s.meanEotGradientCosine)}`,
        ...report.notes,
      ],
    },
  );
}

/** The files of the trajectories report in `outDir`: `trajectories.json` and `trajectories.svg`. */
export function trajectoryReportFiles(outDir: string): { json: string; svg: string } {
  return { json: path.join(outDir, 'trajectories.json'), svg: path.join(outDir, 'trajectories.svg') };
}

/** Write `trajectories.json` and `trajectories.svg` into `outDir` (atomically). */
export function writeTrajectoryReport(report: TrajectoryReport, outDir: string): { json: string; svg: string } {
  const { json, svg } = trajectoryReportFiles(outDir);
  writeJsonAtomic(json, report);
  writeFileAtomic(svg, trajectorySvg(report));
  return { json, svg };
}
