/**
 * Export and re-check a run's scoring: the returned adversarial examples of every attack with the keys
 * of every draw of their final evaluation, and the clean draws, so that anyone can recompute each
 * prediction of an entry (docs/RUNNER.md, "Export and re-check").
 *
 * Keys: the clean draws of a batch come from a fresh-noise target of seed `clean`; the final draws of
 * attack k from a target with the attack's keyed streams (policy, seed `attack:<k>`) and fresh streams
 * of seed `final:<k>`. Fresh draw r of sample s is keyed by (seed, stream, step, s, r, generation 1),
 * since each of these targets is new; nothing depends on the attack's own draws.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  DataFormatError,
  MissingFileError,
  readJsonChecked,
  sha256File,
  writeJsonAtomic,
  type Classifier,
  type Dataset,
  type DeepReadonly,
  type Defense,
  type Logger,
  type NoisePolicy,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { readSafetensors, writeSafetensors } from '@dbp-bench/models';
import type { RunConfig } from './config';
import { loadRunConfig } from './config';
import { defaultDeps, type RunnerDeps } from './deps';
import { RUN_INFO_FILE, readRunInfo, type RunInfo } from './entry';
import { adversarialFile } from './execute';
import { readJournal } from './journal';
import { withVote } from './vote';
import { attackSeed, defaultGradient, finalSeed } from './plan';
import type { SampleRecord } from './records';

export const EXPORT_MANIFEST = 'manifest.json';
export const EXPORT_FORMAT = 'dbp-bench-export';

/** One sample's draws in an export: where it is, its label and the predicted class of each draw. */
export interface ExportedSample {
  position: number;
  index: number;
  label: number;
  predictions: number[];
}

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  version: 1;
  run: string;
  /** The run's frozen config and the directory its relative paths resolve from. */
  config: DeepReadonly<RunConfig>;
  configDir: string;
  /** R: draws per evaluation. */
  draws: number;
  batchSize: number;
  classifier: { weights: string; sha256: string | null };
  keys: string;
  clean: { seed: number; policy: 'fresh'; samples: ExportedSample[] };
  attacks: {
    k: number;
    name: string;
    id: string;
    policy: NoisePolicy;
    keyedSeed: number;
    freshSeed: number;
    /** The adversarial examples (x_adv, index, position, label), relative to the manifest. */
    file: string;
    samples: ExportedSample[];
  }[];
}

const KEYS =
  'draw r of sample s (dataset index): fresh streams keyed by (freshSeed, stream, step, s, r, generation 1) of a new target per batch; ' +
  'streams the policy keys (DW-box) by (keyedSeed, stream, step, s); clean draws: policy fresh, seed clean.seed';

/** The records of a finished run: results.jsonl, else its journals (every shard complete). */
function runRecords(runDir: string, info: RunInfo): SampleRecord[] {
  const results = path.join(runDir, 'results.jsonl');
  if (fs.existsSync(results)) {
    return fs
      .readFileSync(results, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as SampleRecord);
  }
  const journals = fs.readdirSync(runDir).filter((f) => f.startsWith('journal') && f.endsWith('.jsonl'));
  const records = journals.flatMap((j) => readJournal(path.join(runDir, j)).records);
  if (records.length !== info.dataset.n)
    throw new DataFormatError(
      runDir,
      `holds ${records.length} of the run's ${info.dataset.n} samples; finish the run (or merge its shards) before exporting it`,
    );
  return records.sort((a, b) => a.position - b.position);
}

/**
 * Write the export of the run in `runDir` to `outDir`: manifest.json, run.json and one
 * `adversarial-<k>.safetensors` per attack (x_adv [m, H, W, C] float32, index, position, label int32,
 * rows in subset order). Returns the manifest.
 */
export function exportRun(runDir: string, outDir: string): ExportManifest {
  const info = readRunInfo(runDir);
  const records = runRecords(runDir, info);
  fs.mkdirSync(outDir, { recursive: true });
  const advDir = path.join(runDir, 'adversarial');
  const attacks: ExportManifest['attacks'] = info.attacks.map((a, k) => {
    const ran = records.filter((r) => r.attacks[k]?.ran);
    const firsts = [...new Set(ran.map((r) => Math.floor(r.position / info.batchSize) * info.batchSize))].sort((p, q) => p - q);
    const rows: { x: Float32Array; index: number; position: number; label: number }[] = [];
    let shape: number[] = [];
    for (const first of firsts) {
      const file = adversarialFile(advDir, first, k);
      if (!fs.existsSync(file))
        throw new MissingFileError(
          file,
          `the adversarial examples of attack '${a.name}' on the batch at position ${first} (written by dbp-bench run)`,
        );
      const st = readSafetensors(file);
      const x = st.tensors.get('x_adv');
      const idx = st.tensors.get('index');
      const pos = st.tensors.get('position');
      const lab = st.tensors.get('label');
      if (!x || !idx || !pos || !lab) throw new DataFormatError(file, 'expected the tensors x_adv, index, position and label');
      shape = x.shape.slice(1);
      const per = shape.reduce((p, q) => p * q, 1);
      for (let i = 0; i < idx.data.length; i++) {
        rows.push({
          x: (x.data as Float32Array).slice(i * per, (i + 1) * per),
          index: Number(idx.data[i]),
          position: Number(pos.data[i]),
          label: Number(lab.data[i]),
        });
      }
    }
    rows.sort((p, q) => p.position - q.position);
    const byPos = new Map(ran.map((r) => [r.position, r]));
    if (rows.length !== ran.length || rows.some((r) => !byPos.has(r.position)))
      throw new DataFormatError(advDir, `holds ${rows.length} adversarial examples of attack '${a.name}', its records ${ran.length}`);
    const file = `adversarial-${k}.safetensors`;
    const per = shape.reduce((p, q) => p * q, 1);
    const data = new Float32Array(rows.length * per);
    rows.forEach((r, i) => data.set(r.x, i * per));
    writeSafetensors(
      path.join(outDir, file),
      {
        x_adv: { dtype: 'F32', shape: [rows.length, ...shape], data },
        index: { dtype: 'I32', shape: [rows.length], data: Int32Array.from(rows.map((r) => r.index)) },
        position: { dtype: 'I32', shape: [rows.length], data: Int32Array.from(rows.map((r) => r.position)) },
        label: { dtype: 'I32', shape: [rows.length], data: Int32Array.from(rows.map((r) => r.label)) },
      },
      { format: 'dbp-bench-adversarial', run: info.run, attack: a.name },
    );
    return {
      k,
      name: a.name,
      id: a.id,
      policy: a.noisePolicy,
      keyedSeed: attackSeed(info.config.seed, k),
      freshSeed: finalSeed(info.config.seed, k),
      file,
      samples: rows.map((r) => {
        const rec = byPos.get(r.position)!;
        return { position: r.position, index: r.index, label: r.label, predictions: rec.attacks[k].eval!.predictions };
      }),
    };
  });
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    version: 1,
    run: info.run,
    config: info.config,
    // run.json records the config file relative to the run directory (absolute in older runs)
    configDir: info.configFile ? path.dirname(path.resolve(runDir, info.configFile)) : runDir,
    draws: info.config.evaluation.purifications,
    batchSize: info.batchSize,
    classifier: { weights: info.classifier.weights, sha256: info.classifier.sha256 },
    keys: KEYS,
    clean: {
      seed: info.seeds.clean,
      policy: 'fresh',
      samples: records.map((r) => ({ position: r.position, index: r.index, label: r.label, predictions: r.clean.predictions })),
    },
    attacks,
  };
  fs.copyFileSync(path.join(runDir, RUN_INFO_FILE), path.join(outDir, RUN_INFO_FILE));
  writeJsonAtomic(path.join(outDir, EXPORT_MANIFEST), manifest);
  return manifest;
}

export function readExport(dir: string): ExportManifest {
  const m = readJsonChecked(path.join(dir, EXPORT_MANIFEST), 'an export manifest (written by dbp-bench export)') as ExportManifest;
  if (m?.format !== EXPORT_FORMAT || m.version !== 1)
    throw new DataFormatError(path.join(dir, EXPORT_MANIFEST), `is not a ${EXPORT_FORMAT} manifest of version 1`);
  return m;
}

/** One draw that did not come out as recorded. */
export interface RecheckMismatch {
  what: string;
  position: number;
  index: number;
  recorded: number[];
  recomputed: number[];
}

export interface RecheckResult {
  /** Samples rechecked per part (`clean`, then each attack's name). */
  checked: { what: string; samples: number; draws: number }[];
  mismatches: RecheckMismatch[];
  /** The classifier weights differ from the ones the run used (sha256). */
  weightsChanged: boolean;
}

/**
 * Recompute every draw of an export (or of the samples at `positions`) with the recorded keys: the
 * clean draws from the dataset, the final draws of each attack from its exported adversarial examples,
 * batch by batch as the run grouped them. The plugins come from `registry` (plus the config's own).
 */
export async function recheckExport(
  dir: string,
  registry: PluginRegistry,
  o: { positions?: readonly number[]; logger: Logger; deps?: RunnerDeps },
): Promise<RecheckResult> {
  const m = readExport(dir);
  const { config, baseDir } = loadRunConfig(registry, m.config, m.configDir);
  // the targets the run used: with the config's vote wrapper when it has one
  const deps = withVote(o.deps ?? defaultDeps(), config.defense.vote);
  const scope = registry.createScope({ logger: o.logger, baseDir });
  const weights = scope.resolvePath(config.classifier.weights);
  const weightsChanged = m.classifier.sha256 !== null && fs.existsSync(weights) && (await sha256File(weights)) !== m.classifier.sha256;
  const classifier: Classifier = await deps.loadClassifier(weights);
  const defense = await scope.create<Defense>('defense', config.defense.id, config.defense.options);
  const gradient = defaultGradient(defense);
  const want = o.positions ? new Set(o.positions) : null;
  const out: RecheckResult = { checked: [], mismatches: [], weightsChanged };
  const byBatch = (samples: ExportedSample[]): Map<number, ExportedSample[]> => {
    const g = new Map<number, ExportedSample[]>();
    for (const s of samples) {
      if (want && !want.has(s.position)) continue;
      const b = Math.floor(s.position / m.batchSize);
      g.set(b, [...(g.get(b) ?? []), s]);
    }
    return g;
  };
  const compare = async (
    what: string,
    groups: Map<number, ExportedSample[]>,
    images: (s: ExportedSample[]) => Promise<tf.Tensor4D>,
    target: () => ReturnType<RunnerDeps['createTarget']>,
  ) => {
    let samples = 0;
    const bar = o.logger.progress(
      `recheck ${what}`,
      [...groups.values()].reduce((k, l) => k + l.length, 0),
    );
    for (const list of groups.values()) {
      const x = await images(list);
      try {
        const ev = await deps.evaluateRandomized(
          target(),
          x,
          Int32Array.from(list.map((s) => s.label)),
          list.map((s) => s.index),
          m.draws,
        );
        list.forEach((s, i) => {
          const got = ev[i].predictions;
          if (got.length !== s.predictions.length || got.some((p, r) => p !== s.predictions[r]))
            out.mismatches.push({ what, position: s.position, index: s.index, recorded: s.predictions, recomputed: [...got] });
        });
      } finally {
        x.dispose();
      }
      samples += list.length;
      bar.tick(list.length);
    }
    bar.done();
    out.checked.push({ what, samples, draws: samples * m.draws });
  };
  // clean: the dataset's images, a new fresh-noise target per batch
  const dataset = await scope.create<Dataset>('dataset', config.dataset.id, config.dataset.options);
  await compare(
    'clean',
    byBatch(m.clean.samples),
    async (list) => (await dataset.get(list.map((s) => s.index))).images,
    () => deps.createTarget(classifier, defense, { policy: 'fresh', seed: m.clean.seed, gradient }),
  );
  for (const a of m.attacks) {
    const st = readSafetensors(path.join(dir, a.file));
    const x = st.tensors.get('x_adv');
    const pos = st.tensors.get('position');
    if (!x || !pos) throw new DataFormatError(path.join(dir, a.file), 'expected the tensors x_adv and position');
    const shape = x.shape.slice(1);
    const per = shape.reduce((p, q) => p * q, 1);
    const row = new Map<number, number>();
    for (let i = 0; i < pos.data.length; i++) row.set(Number(pos.data[i]), i);
    await compare(
      a.name,
      byBatch(a.samples),
      async (list) => {
        const data = new Float32Array(list.length * per);
        list.forEach((s, i) => {
          const j = row.get(s.position);
          if (j === undefined) throw new DataFormatError(path.join(dir, a.file), `has no adversarial example at position ${s.position}`);
          data.set((x.data as Float32Array).subarray(j * per, (j + 1) * per), i * per);
        });
        return tf.tensor4d(data, [list.length, ...(shape as [number, number, number])]);
      },
      () => deps.createTarget(classifier, defense, { policy: a.policy, seed: a.keyedSeed, freshSeed: a.freshSeed, gradient }),
    );
  }
  (classifier as { dispose?: () => void }).dispose?.();
  return out;
}
