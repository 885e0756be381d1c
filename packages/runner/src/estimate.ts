/**
 * The plan of a run and its estimated wall time, before anything is computed or written
 * (`dbp-bench run --dry-run`, `dbp-bench validate --eta`; docs/RUNNER.md, "Before a run: plan and ETA").
 *
 * The plan counts rows: one row is one purification of one image followed by the classifier (the
 * unit every part of a run is made of). Per shard, with n samples and R final purifications:
 *
 * - preflight (sanity checks on the first min(2, n) samples): 2 forward passes of those samples,
 *   and one gradient pass of them per distinct (noise policy, gradient mode) of the attacks that
 *   need input gradients;
 * - clean evaluation: n · R forward rows;
 * - attack a: n · runs · steps · eotSamples gradient rows (its declared protocol, runs = `runs` or
 *   else `restarts`; forward rows
 *   instead when it declares it needs no input gradients), then n · R forward rows of its final
 *   evaluation; under gradient mode `surrogate` one more forward row per gradient row (the defended
 *   process's verdict), and with `evaluation.inLoopDraws` N forward rows per iterate and sample.
 * It is an upper bound: a run attacks only the samples that are still robust, and the draws an
 * attack makes for its own bookkeeping (the restart selection of PGD, APGD's selection draws,
 * DiffHammer's N-evaluation without a backward for all but one draw) are not separated out. Network
 * calls: one row costs the defense's declared `networkCalls` (its surrogate's for gradient rows of
 * gradient mode `surrogate`) plus one classifier call; under a vote every evaluation row is K
 * purifications.
 *
 * The estimate is measured, not assumed: one forward+backward pass and one forward pass of P rows
 * (one image of the subset as P EoT replicas; P = `probeRows`, default 8) through the configured
 * classifier and defense on this machine, after an untimed one-row warm-up; seconds per row times the
 * counted rows. Rows of a larger micro-batch cost about as much per row on a CPU backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  activeBackend,
  eotRows,
  formatDuration,
  purifiedLogits,
  surrogateOf,
  silentLogger,
  type Dataset,
  type Defense,
  type GradientMode,
  type Logger,
  type NoisePolicy,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { loadRunConfig } from './config';
import { defaultDeps, type LoadedClassifier, type RunnerDeps } from './deps';
import { defaultGradient, planAttacks, planSubset, type RunAttack } from './plan';
import { UNSHARDED, type ShardSpec } from './shard';
import { withVote } from './vote';

/** The counted work of one attack of a shard. */
export interface AttackWork {
  readonly name: string;
  readonly id: string;
  readonly policy: NoisePolicy;
  readonly gradient: GradientMode;
  readonly eot: number;
  /** Declared steps per run (null: the attack declares none; then it is counted as no iterations). */
  readonly steps: number | null;
  /** Runs per sample (the declared `runs`, else `restarts`). */
  readonly runs: number;
  readonly inputGradients: boolean;
  /** Rows with a backward pass: samples · runs · steps · eot (0 when it needs no input gradients). */
  readonly gradientRows: number;
  /** Forward rows of its iterations when it needs no input gradients, else 0. */
  readonly iterationRows: number;
  /** Forward rows of its final evaluation: samples · R. */
  readonly finalRows: number;
  /**
   * Forward rows of its in-loop verdicts: under gradient mode `surrogate` one purification by the
   * defended process per gradient row, plus with `evaluation.inLoopDraws` N independent purifications
   * of every iterate (samples · runs · steps · N, evaluation rows: voted under a vote).
   */
  readonly verdictRows: number;
  readonly inLoopRows: number;
}

/** What one shard of a run computes, counted from the plan (see the file comment). */
export interface RunWork {
  /** Samples and batches of this shard. */
  readonly samples: number;
  readonly batches: number;
  readonly batchSize: number;
  /** Final purifications per sample. */
  readonly R: number;
  /** Network calls of one purification (the defense's declared `networkCalls`). */
  readonly defenseCalls: number;
  /** Purifications per evaluation row (the vote's K; 1 without a vote). */
  readonly voteK: number;
  readonly preflight: { readonly forwardRows: number; readonly gradientRows: number };
  readonly cleanRows: number;
  readonly attacks: readonly AttackWork[];
  readonly total: {
    /** Forward-only rows (clean, final, preflight, gradient-free attack iterations). */
    readonly forwardRows: number;
    readonly gradientRows: number;
    /** Forward network calls, defense and classifier (a backward pass is not counted as calls). */
    readonly networkCalls: number;
  };
}

/** Count the rows of a shard (pure: see the file comment for the rules). */
export function countRunWork(p: {
  samples: number;
  batches: number;
  batchSize: number;
  R: number;
  defenseCalls: number;
  /** Network calls of the defense's surrogate chain (gradient mode `surrogate`); default defenseCalls. */
  surrogateCalls?: number;
  voteK?: number;
  /** `evaluation.inLoopDraws`: N independent purifications of every iterate (absent: none). */
  inLoopDraws?: number;
  sanityChecks: boolean;
  attacks: readonly Pick<RunAttack, 'name' | 'id' | 'policy' | 'gradient' | 'eot' | 'steps' | 'protocol'>[];
}): RunWork {
  const n = p.samples;
  const voteK = p.voteK ?? 1;
  const attacks: AttackWork[] = p.attacks.map((a) => {
    const runs = a.protocol.runs ?? a.protocol.restarts;
    const iterations = n * runs * (a.steps ?? 0) * a.eot;
    const grads = a.protocol.requires.inputGradients;
    return {
      name: a.name,
      id: a.id,
      policy: a.policy,
      gradient: a.gradient,
      eot: a.eot,
      steps: a.steps,
      runs,
      inputGradients: grads,
      gradientRows: grads ? iterations : 0,
      iterationRows: grads ? 0 : iterations,
      finalRows: n * p.R,
      verdictRows: grads && a.gradient === 'surrogate' ? iterations : 0,
      inLoopRows: n * runs * (a.steps ?? 0) * (p.inLoopDraws ?? 0),
    };
  });
  const first = p.sanityChecks && n > 0 ? Math.min(2, n) : 0;
  const gradientAttacks = p.attacks.filter((a) => a.protocol.requires.inputGradients);
  const settings = new Map(gradientAttacks.map((a) => [`${a.policy}/${a.gradient}`, a.gradient]));
  const preflight = { forwardRows: 2 * first, gradientRows: first * settings.size };
  // a gradient row runs the surrogate's chain under gradient mode `surrogate`
  const gradCalls = (g: GradientMode): number => (g === 'surrogate' ? (p.surrogateCalls ?? p.defenseCalls) : p.defenseCalls) + 1;
  const cleanRows = n * p.R;
  // evaluation rows are voted (K purifications each); attack iterations are one purification per row
  const evalRows = preflight.forwardRows + cleanRows + attacks.reduce((s, a) => s + a.finalRows + a.inLoopRows, 0);
  const iterRows = attacks.reduce((s, a) => s + a.iterationRows + a.verdictRows, 0);
  const gradientRows = preflight.gradientRows + attacks.reduce((s, a) => s + a.gradientRows, 0);
  const perRow = p.defenseCalls + 1;
  const gradientCalls =
    [...settings.values()].reduce((s, g) => s + first * gradCalls(g), 0) +
    attacks.reduce((s, a) => s + a.gradientRows * gradCalls(a.gradient), 0);
  return {
    samples: n,
    batches: p.batches,
    batchSize: p.batchSize,
    R: p.R,
    defenseCalls: p.defenseCalls,
    voteK,
    preflight,
    cleanRows,
    attacks,
    total: {
      forwardRows: evalRows + iterRows,
      gradientRows,
      networkCalls: (evalRows * voteK + iterRows) * perRow + gradientCalls,
    },
  };
}

/** The measured cost of rows on this machine. */
export interface RowTiming {
  /** Rows per timed pass. */
  readonly probeRows: number;
  /** Seconds of one forward+backward pass of `probeRows` rows, per row. */
  readonly gradientRowSeconds: number;
  /** Seconds of one forward (evaluation) pass, per row (rows of a voted target are K purifications). */
  readonly forwardRowSeconds: number;
  /** Rows of the timed forward pass (probeRows / K under a vote, at least 1). */
  readonly forwardProbeRows: number;
  /** Total seconds the measurement took (warm-up included). */
  readonly measureSeconds: number;
  /** The tensor backend (and threads) it ran on. */
  readonly backend: string;
}

export interface RunEstimate {
  readonly name: string;
  readonly hash: string;
  readonly shard: ShardSpec;
  readonly defense: string;
  readonly work: RunWork;
  /** Absent when the estimate was not measured (`measure: false`). */
  readonly timing?: RowTiming;
  /** Estimated seconds of the shard: gradient rows · gradient seconds + forward rows · forward seconds. */
  readonly seconds?: number;
}

export interface EstimateOptions {
  registry: PluginRegistry;
  /** Config file path, or a config object (then `baseDir` resolves its relative paths). */
  config: unknown;
  baseDir?: string;
  shard?: ShardSpec;
  deps?: RunnerDeps;
  logger?: Logger;
  /** Time the rows on this machine (default true); false: the plan only. */
  measure?: boolean;
  /** Rows per timed pass (default 8). */
  probeRows?: number;
}

/** The active tensor backend, with its threads when known. */
function backendLabel(): string {
  const b = activeBackend();
  return b ? `${b.name} backend${b.threads ? `, ${b.threads} threads` : ''}` : `${tf.getBackend()} backend`;
}

/** One timing of `f` in seconds; the result is read back (dataSync) and disposed. */
function timed(f: () => tf.Tensor): number {
  const t0 = process.hrtime.bigint();
  const out = f();
  out.dataSync();
  out.dispose();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/**
 * Time one forward+backward pass and one forward pass of `probeRows` rows (one image as EoT replicas)
 * on the targets the run would use. Throws when the measurement leaks tensors.
 */
export function measureRowCost(p: {
  classifier: LoadedClassifier;
  defense: Defense;
  deps: RunnerDeps;
  evalDeps: RunnerDeps;
  image: tf.Tensor4D;
  label: number;
  sample: number;
  /** The (policy, gradient) of the attack whose gradients dominate; default fresh noise, the defense's default gradient. */
  policy?: NoisePolicy;
  gradient?: GradientMode;
  voteK: number;
  probeRows: number;
  seed: number;
}): RowTiming {
  const start = process.hrtime.bigint();
  const before = tf.memory().numTensors;
  const gradient = p.gradient ?? defaultGradient(p.defense);
  const P = Math.max(1, Math.floor(p.probeRows));
  const Pf = Math.max(1, Math.round(P / p.voteK));
  const target = p.deps.createTarget(p.classifier, p.defense, { policy: p.policy ?? 'fresh', seed: p.seed, gradient });
  const evalTarget = p.evalDeps.createTarget(p.classifier, p.defense, { policy: 'fresh', seed: p.seed, gradient });
  const numClasses = p.classifier.numClasses;
  const rows = (k: number) => eotRows([p.sample], k);
  const tile = (k: number) => tf.tile(p.image, [k, 1, 1, 1]) as tf.Tensor4D;
  // warm-up: one row forward (kernels, heap growth)
  timed(() => tf.tidy(() => target.logits(tile(1), rows(1))));
  const g = timed(() =>
    tf.tidy(() => {
      const x = tile(P);
      const y = tf.oneHot(tf.fill([P], p.label, 'int32') as tf.Tensor1D, numClasses);
      const noise = target.noise(rows(P));
      return tf.grad((xx: tf.Tensor) =>
        tf.losses.softmaxCrossEntropy(
          y,
          purifiedLogits(p.classifier, target.defense, xx as tf.Tensor4D, noise, gradient),
          undefined,
          0,
          tf.Reduction.SUM,
        ),
      )(x);
    }),
  );
  const f = timed(() => tf.tidy(() => evalTarget.logits(tile(Pf), rows(Pf))));
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`estimate: measuring the row cost leaked ${leaked} tensors (defense '${p.defense.id}')`);
  return {
    probeRows: P,
    gradientRowSeconds: g / P,
    forwardRowSeconds: f / Pf,
    forwardProbeRows: Pf,
    measureSeconds: Number(process.hrtime.bigint() - start) / 1e9,
    backend: backendLabel(),
  };
}

/** The estimated seconds of `work` at `timing`. */
export function estimatedSeconds(work: RunWork, timing: RowTiming): number {
  return work.total.gradientRows * timing.gradientRowSeconds + work.total.forwardRows * timing.forwardRowSeconds;
}

/**
 * Plan a run (one shard) and, unless `measure` is false, time its rows: loads the config, the dataset,
 * the classifier, the defense and the attacks exactly as `run` does, and writes nothing.
 */
export async function estimateRun(opts: EstimateOptions): Promise<RunEstimate> {
  const logger = opts.logger ?? silentLogger;
  const deps = opts.deps ?? defaultDeps();
  const shard = opts.shard ?? UNSHARDED;
  const { config, hash, baseDir, file } = loadRunConfig(opts.registry, opts.config, opts.baseDir);
  const scope = opts.registry.createScope({ logger, baseDir });
  const dataset = await scope.create<Dataset>('dataset', config.dataset.id, config.dataset.options);
  const subset = planSubset(config, dataset, deps, shard);
  const classifier = await deps.loadClassifier(scope.resolvePath(config.classifier.weights));
  let defense: Defense | undefined;
  try {
    defense = await scope.create<Defense>('defense', config.defense.id, config.defense.options);
    const attacks = await planAttacks(opts.registry, scope, config, dataset, defense, file, logger);
    const voteK = config.defense.vote?.k ?? 1;
    const work = countRunWork({
      samples: subset.shardPositions,
      batches: Math.max(0, subset.range.end - subset.range.start),
      batchSize: subset.batchSize,
      R: config.evaluation.purifications,
      defenseCalls: defense.capabilities.networkCalls,
      surrogateCalls: attacks.some((a) => a.gradient === 'surrogate') ? surrogateOf(defense).capabilities.networkCalls : undefined,
      voteK,
      ...(config.evaluation.inLoopDraws !== undefined ? { inLoopDraws: config.evaluation.inLoopDraws } : {}),
      sanityChecks: config.evaluation.sanityChecks,
      attacks,
    });
    const base = { name: config.name, hash, shard, defense: defense.id, work };
    if (opts.measure === false || subset.shardPositions === 0) return base;
    // the gradient setting of the attack with the most gradient rows (the one that dominates the run)
    const main = work.attacks.reduce<AttackWork | undefined>((m, a) => (!m || a.gradientRows > m.gradientRows ? a : m), undefined);
    const first = subset.indices[subset.range.start * subset.batchSize];
    const batch = await dataset.get([first]);
    try {
      const timing = measureRowCost({
        classifier,
        defense,
        deps,
        evalDeps: withVote(deps, config.defense.vote),
        image: batch.images,
        label: batch.labels[0],
        sample: first,
        policy: main?.policy,
        gradient: main?.gradient,
        voteK,
        probeRows: opts.probeRows ?? 8,
        seed: config.seed,
      });
      return { ...base, timing, seconds: estimatedSeconds(work, timing) };
    } finally {
      batch.images.dispose();
    }
  } finally {
    defense?.dispose?.();
    classifier.dispose?.();
  }
}

const n = (v: number): string => v.toLocaleString('en-US');
const rowsOf = (k: number): string => `${k} row${k === 1 ? '' : 's'}`;
const secs = (s: number): string => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1000).toFixed(1)} ms`);

/** The plan and the estimate as text (what `run --dry-run` and `validate --eta` print). */
export function formatRunEstimate(e: RunEstimate): string {
  const w = e.work;
  const calls = `${w.defenseCalls} network call(s) per purification + 1 classifier call`;
  const lines = [
    `plan of run ${e.name} (${e.hash})${e.shard.count > 1 ? `, shard ${e.shard.index}/${e.shard.count}` : ''}:`,
    `  ${n(w.samples)} samples in ${n(w.batches)} batch(es) of ${w.batchSize}; R = ${w.R} final purifications per sample`,
    `  defense ${e.defense}: ${calls}${w.voteK > 1 ? `; every evaluation row is a vote of ${w.voteK} purifications` : ''}`,
    `  preflight checks: ${n(w.preflight.forwardRows)} forward rows, ${n(w.preflight.gradientRows)} gradient rows`,
    `  clean evaluation: ${n(w.cleanRows)} forward rows`,
    ...w.attacks.map(
      (a) =>
        `  attack '${a.name}' (${a.id}, ${a.policy} noise, ${a.gradient} gradient): ${a.runs} run(s) x ${a.steps ?? 0} steps x EoT ${a.eot} = ` +
        (a.inputGradients ? `${n(a.gradientRows)} gradient rows` : `${n(a.iterationRows)} forward rows (no input gradients)`) +
        (a.verdictRows ? `; ${n(a.verdictRows)} forward rows of in-loop verdicts by the defended process` : '') +
        (a.inLoopRows ? `; ${n(a.inLoopRows)} forward rows of independent in-loop draws` : '') +
        `; final evaluation ${n(a.finalRows)} forward rows`,
    ),
    `  total: ${n(w.total.gradientRows)} gradient rows (forward+backward), ${n(w.total.forwardRows)} forward rows, ${n(w.total.networkCalls)} forward network calls`,
    '  (an upper bound: a run attacks only the samples still robust; attack-internal selection draws are not counted separately)',
  ];
  const t = e.timing;
  if (t && e.seconds !== undefined) {
    lines.push(
      `estimated wall time: ${formatDuration(e.seconds)} on this machine (${t.backend})`,
      `  measured: ${secs(t.gradientRowSeconds)} per gradient row (one forward+backward pass of ${rowsOf(t.probeRows)}), ` +
        `${secs(t.forwardRowSeconds)} per forward row (one pass of ${rowsOf(t.forwardProbeRows)}); measuring took ${formatDuration(t.measureSeconds)}`,
      `  = ${n(w.total.gradientRows)} x ${secs(t.gradientRowSeconds)} + ${n(w.total.forwardRows)} x ${secs(t.forwardRowSeconds)}`,
    );
  } else if (w.samples > 0) lines.push('estimated wall time: not measured');
  return lines.join('\n');
}
