/**
 * Model weights <-> state dicts: PyTorch layouts in files (conv OIHW, linear [out, in]), tfjs layouts
 * in memory (conv HWIO, linear [in, out]); saveModel / loadModel with the dbp-bench safetensors metadata.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigValidationError, DataFormatError, ShapeMismatchError } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, type UNetConfig } from './unet';
import { CLASSIFIER_ARCHS, createClassifier, type ClassifierArch, type ClassifierConfig, type ClassifierModel } from './classifiers';
import { ParameterBudgetError, withParameterBudget, type ParamLayout, type ParamStore } from './nn';
import { readSafetensors, writeSafetensors, type RawTensor } from './safetensors';

export type LoadedModel =
  | { kind: 'unet'; model: UNet; metadata: Record<string, unknown> }
  | { kind: 'classifier'; model: ClassifierModel; metadata: Record<string, unknown> };

export const WEIGHTS_FORMAT = 'dbp-bench';

function storeOf(model: UNet | ClassifierModel): ParamStore {
  return (model as unknown as { paramStore(): ParamStore }).paramStore();
}

/** The PyTorch-layout shape of a parameter held in tfjs layout. */
export function torchShape(shape: readonly number[], layout: ParamLayout): number[] {
  if (layout === 'conv') return [shape[3], shape[2], shape[0], shape[1]];
  if (layout === 'linear') return [shape[1], shape[0]];
  return [...shape];
}

/** Permute a row-major 4-D array: out[i0..i3 in new order] = in[...]; `perm` as in tf.transpose. */
function permute4(src: ArrayLike<number>, shape: readonly number[], perm: readonly number[]): Float32Array {
  const out = new Float32Array(src.length);
  const st = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const os = perm.map((p) => shape[p]);
  const s0 = st[perm[0]],
    s1 = st[perm[1]],
    s2 = st[perm[2]],
    s3 = st[perm[3]];
  let o = 0;
  for (let a = 0; a < os[0]; a++)
    for (let b = 0; b < os[1]; b++)
      for (let c = 0; c < os[2]; c++) {
        const base = a * s0 + b * s1 + c * s2;
        for (let d = 0; d < os[3]; d++) out[o++] = src[base + d * s3];
      }
  return out;
}

function transpose2(src: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** tfjs-layout values -> PyTorch layout. */
export function toTorchLayout(data: Float32Array, shape: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'conv') return permute4(data, shape, [3, 2, 0, 1]);
  if (layout === 'linear') return transpose2(data, shape[0], shape[1]);
  return data;
}

/** PyTorch-layout values (with the PyTorch shape) -> tfjs layout. */
export function fromTorchLayout(data: ArrayLike<number>, torchShape_: readonly number[], layout: ParamLayout): Float32Array {
  if (layout === 'conv') return permute4(data, torchShape_, [2, 3, 1, 0]);
  if (layout === 'linear') return transpose2(data, torchShape_[0], torchShape_[1]);
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** The model's state dict in PyTorch layouts, float32. */
export function modelStateDict(model: UNet | ClassifierModel): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, e] of storeOf(model).entries) {
    const data = e.variable.dataSync() as Float32Array;
    out.set(name, { dtype: 'F32', shape: torchShape(e.variable.shape, e.layout), data: toTorchLayout(data, e.variable.shape, e.layout) });
  }
  return out;
}

function toFloat(t: RawTensor): ArrayLike<number> {
  const d = t.data;
  if (d instanceof Float32Array) return d;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Float32Array.from(d, (v) => Number(v));
  return Float32Array.from(d as ArrayLike<number>);
}

/**
 * Refuse a weight tensor holding NaN or ±Infinity: such a network predicts one class for every input
 * (or NaN logits), and every accuracy measured with it would be meaningless. Names the tensor.
 */
export function checkFinite(data: ArrayLike<number>, name: string, source: string): void {
  let bad = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) {
      // NaN - NaN and Inf - Inf are NaN; every finite v gives 0.
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad) {
    throw new DataFormatError(
      source,
      `tensor '${name}' holds ${bad} non-finite value(s) (the first, ${data[first]}, at flat index ${first} of ${data.length}); the weights are corrupted or come from a diverged training run`,
    );
  }
}

export interface ApplyOptions {
  /** Names the source in errors. */
  source: string;
  /** Fail on tensors the model does not have (default true); `num_batches_tracked` is always ignored. */
  strict?: boolean;
}

export interface ApplyReport {
  loaded: number;
  ignored: string[];
}

/**
 * Load a state dict (PyTorch layouts) into a model. Every model parameter must be present with the
 * PyTorch shape; a linear weight may also come as a [out, in, 1, 1] 1x1 conv. Throws ShapeMismatchError
 * naming the tensor and both shapes, or DataFormatError listing missing / unexpected tensors or naming
 * a tensor that holds NaN or ±Infinity.
 */
export function applyStateDict(model: UNet | ClassifierModel, tensors: Map<string, RawTensor>, opts: ApplyOptions): ApplyReport {
  const store = storeOf(model);
  const missing = [...store.entries.keys()].filter((k) => !tensors.has(k));
  if (missing.length) {
    throw new DataFormatError(
      opts.source,
      `${missing.length} tensor(s) the architecture needs are missing, e.g. ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''}`,
    );
  }
  const values = new Map<string, Float32Array>();
  for (const [name, e] of store.entries) {
    const t = tensors.get(name)!;
    const want = torchShape(e.variable.shape, e.layout);
    let shape = t.shape;
    if (e.layout === 'linear' && shape.length === 4 && shape[2] === 1 && shape[3] === 1) shape = shape.slice(0, 2);
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
      throw new ShapeMismatchError(
        `${opts.source}: tensor '${name}' has shape [${t.shape.join(', ')}], the architecture expects [${want.join(', ')}]`,
      );
    }
    const data = toFloat(t);
    checkFinite(data, name, opts.source);
    values.set(name, fromTorchLayout(data, shape, e.layout));
  }
  const ignored = [...tensors.keys()].filter((k) => !store.entries.has(k));
  const unexpected = ignored.filter((k) => !k.endsWith('num_batches_tracked'));
  if (unexpected.length && opts.strict !== false) {
    throw new DataFormatError(
      opts.source,
      `${unexpected.length} tensor(s) do not belong to the architecture, e.g. ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}`,
    );
  }
  for (const [name, e] of store.entries) {
    tf.tidy(() => e.variable.assign(tf.tensor(values.get(name)!, e.variable.shape, 'float32')));
  }
  return { loaded: values.size, ignored };
}

/** The metadata block written with a model. */
export function modelMetadata(model: UNet | ClassifierModel, extra: Record<string, unknown> = {}): Record<string, string> {
  const md: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra)) md[k] = typeof v === 'string' ? v : JSON.stringify(v);
  md.format = WEIGHTS_FORMAT;
  if (model instanceof UNet) {
    md.kind = 'unet';
    md.arch = 'unet';
    md.config = JSON.stringify(model.config);
  } else {
    md.kind = 'classifier';
    md.arch = model.arch;
    md.config = JSON.stringify(model.config);
    md.normalization = JSON.stringify({ mean: model.config.mean, std: model.config.std });
  }
  md.parameters = String(model.parameterCount());
  return md;
}

/** Save a model as safetensors (PyTorch layouts, float32) with its metadata, atomically. */
export function saveModel(file: string, model: UNet | ClassifierModel, extraMetadata: Record<string, unknown> = {}): void {
  writeSafetensors(file, modelStateDict(model), modelMetadata(model, extraMetadata));
}

function parseJsonField(file: string, md: Record<string, string>, key: string): unknown {
  if (md[key] === undefined) throw new DataFormatError(file, `metadata field '${key}' is missing`);
  try {
    return JSON.parse(md[key]);
  } catch (e) {
    throw new DataFormatError(file, `metadata field '${key}' is not valid JSON`, { cause: e });
  }
}

/** Build a model from metadata + tensors (already in memory). */
export function modelFromContents(file: string, tensors: Map<string, RawTensor>, md: Record<string, string>): LoadedModel {
  if (md.format !== WEIGHTS_FORMAT) {
    throw new DataFormatError(
      file,
      `metadata 'format' is ${md.format === undefined ? 'missing' : `'${md.format}'`}, expected '${WEIGHTS_FORMAT}': this is not a dbp-bench weights file; import it with \`dbp-bench weights convert ${file} out.safetensors --arch <id>\``,
    );
  }
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(md)) {
    try {
      metadata[k] = k === 'format' || k === 'kind' || k === 'arch' ? v : JSON.parse(v);
    } catch {
      metadata[k] = v;
    }
  }
  const config = parseJsonField(file, md, 'config');
  // Every parameter must come from the file, so a network much larger than the file is refused before
  // it is allocated (a hostile config cannot make us allocate gigabytes). The slack (2x + 10^6 values)
  // leaves a missing or misshapen tensor to applyStateDict, whose message names it.
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  const allowed = 2 * held + 1_000_000;
  const build = <T>(what: string, fn: () => T): T => {
    try {
      return withParameterBudget(allowed, fn);
    } catch (e) {
      if (e instanceof ConfigValidationError)
        throw new DataFormatError(file, `metadata 'config' is not a valid ${what} config: ${e.message}`, { cause: e });
      if (e instanceof ParameterBudgetError) {
        throw new DataFormatError(
          file,
          `metadata 'config' describes a ${what} with more than ${allowed} parameter values, far more than the file's ${held} (exceeded at '${e.at}'); the metadata does not match the tensors`,
          { cause: e },
        );
      }
      throw e;
    }
  };
  if (md.kind === 'unet') {
    const model = build('UNet', () => new UNet(config as UNetConfig));
    try {
      applyStateDict(model, tensors, { source: file });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { kind: 'unet', model, metadata };
  }
  if (md.kind === 'classifier') {
    const arch = md.arch as ClassifierArch;
    if (!CLASSIFIER_ARCHS.includes(arch))
      throw new DataFormatError(file, `metadata 'arch' is '${md.arch}', expected one of ${CLASSIFIER_ARCHS.join(', ')}`);
    const model = build(arch, () => createClassifier(arch, config as ClassifierConfig));
    try {
      applyStateDict(model, tensors, { source: file });
    } catch (e) {
      model.dispose();
      throw e;
    }
    return { kind: 'classifier', model, metadata };
  }
  throw new DataFormatError(file, `metadata 'kind' is '${md.kind}', expected 'unet' or 'classifier'`);
}

/** Load a dbp-bench safetensors file and rebuild its network from the metadata. */
export async function loadModel(file: string): Promise<LoadedModel> {
  const { tensors, metadata } = readSafetensors(file);
  return modelFromContents(file, tensors, metadata);
}

/** Load a classifier; a clear error if the file holds a UNet. */
export async function loadClassifier(file: string): Promise<ClassifierModel> {
  const m = await loadModel(file);
  if (m.kind !== 'classifier') {
    m.model.dispose();
    throw new DataFormatError(file, `holds a diffusion UNet, expected a classifier (metadata kind '${m.kind}')`);
  }
  return m.model;
}

/**
 * Load a diffusion UNet with the metadata of its file (e.g. `trainTimesteps`, written by a trainer
 * that drew only t < trainTimesteps); a clear error if the file holds a classifier.
 */
export async function loadUNetFile(file: string): Promise<{ model: UNet; metadata: Record<string, unknown> }> {
  const m = await loadModel(file);
  if (m.kind !== 'unet') {
    m.model.dispose();
    throw new DataFormatError(file, `holds a ${m.model.arch} classifier, expected a diffusion UNet (metadata kind '${m.kind}')`);
  }
  return { model: m.model, metadata: m.metadata };
}

/** Load a diffusion UNet; a clear error if the file holds a classifier. */
export async function loadUNet(file: string): Promise<UNet> {
  return (await loadUNetFile(file)).model;
}

/** Presets re-exported for convenience in conversions. */
export { UNET_PRESETS };
