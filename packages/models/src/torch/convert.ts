/**
 * Mapping a checkpoint's tensors onto one of the project's architectures: infer the architecture
 * and its config from tensor names and shapes where possible (explicit options win), load the
 * weights with shape checks, and return the model ready for saveModel().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError, readJsonChecked } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, type UNetConfig, type UNetPreset } from '../unet';
import {
  CLASSIFIER_ARCHS,
  createClassifier,
  defaultClassifierConfig,
  type ClassifierArch,
  type ClassifierConfig,
  type ClassifierModel,
} from '../classifiers';
import { WEIGHTS_FORMAT, applyStateDict, type ApplyReport } from '../io';
import type { RawTensor } from '../safetensors';
import { readWeightsFile, renameLegacyDiffusers } from './checkpoint';

export type ArchId = 'unet' | ClassifierArch;

export interface ConvertOptions {
  /** Target architecture; inferred from tensor names when absent. */
  arch?: ArchId;
  /** Config fields (UNetConfig or ClassifierConfig extras) overriding inferred ones. */
  config?: Record<string, unknown>;
  /** UNet preset the inferred config starts from (default ddpm-cifar10). */
  preset?: UNetPreset;
  mean?: number[];
  std?: number[];
  numClasses?: number;
  /** Dotted key of the state dict inside the checkpoint. */
  key?: string;
  /** Ignore tensors the architecture does not have (default false). */
  allowUnexpected?: boolean;
}

export interface ConvertResult {
  model: UNet | ClassifierModel;
  arch: ArchId;
  format: string;
  statePath: string;
  strippedPrefix: string;
  report: ApplyReport;
  /**
   * What the conversion changed or could not know, one sentence each (the CLI prints them as warnings):
   * an architecture or input normalisation that differs from the source file's dbp-bench metadata, or a
   * classifier imported from PyTorch without --mean/--std.
   */
  warnings: string[];
}

/** The architecture and config a dbp-bench safetensors file records (undefined: not one). */
function dbpBenchSource(metadata: Record<string, string> | undefined): { arch: string; config: Record<string, unknown> } | undefined {
  if (metadata?.format !== WEIGHTS_FORMAT || !metadata.arch || !metadata.config) return undefined;
  try {
    const config = JSON.parse(metadata.config) as unknown;
    return config && typeof config === 'object' ? { arch: metadata.arch, config: config as Record<string, unknown> } : undefined;
  } catch {
    return undefined;
  }
}

const sameNumbers = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

const shapeOf = (t: Map<string, RawTensor>, k: string): number[] | undefined => t.get(k)?.shape;

function countIndexed(names: string[], re: RegExp): number {
  const s = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) s.add(Number(m[1]));
  }
  return s.size;
}

/** Guess the architecture from the tensor names. */
export function inferArch(tensors: Map<string, RawTensor>): ArchId | undefined {
  const has = (k: string): boolean => tensors.has(k);
  if (has('conv_in.weight') && has('time_embedding.linear_1.weight')) return 'unet';
  if (has('feature_extractor.conv1.weight')) return 'small-cnn';
  if (has('block1.layer.0.conv1.weight')) return 'wrn-28-10';
  if (has('layer4.0.conv1.weight') && has('layer1.0.bn1.weight')) return 'preact-resnet18';
  if (has('layer3.0.conv1.weight') && has('linear.weight')) {
    const n = countIndexed([...tensors.keys()], /^layer1\.(\d+)\.conv1\.weight$/);
    return n === 9 ? 'resnet56' : 'resnet20';
  }
  return undefined;
}

/** Map a diffusers UNet2DModel config.json onto a UNetConfig. */
export function unetConfigFromDiffusers(j: Record<string, unknown>, file = 'config.json'): Partial<UNetConfig> {
  const out: Partial<UNetConfig> = {};
  const blocks = j.block_out_channels as number[] | undefined;
  const sample = (j.sample_size as number | undefined) ?? 32;
  if (j._class_name !== undefined && j._class_name !== 'UNet2DModel')
    throw new DataFormatError(file, `_class_name is ${JSON.stringify(j._class_name)}, expected UNet2DModel`);
  out.sampleSize = sample;
  if (typeof j.in_channels === 'number') out.inChannels = j.in_channels;
  if (typeof j.out_channels === 'number') out.outChannels = j.out_channels;
  if (blocks) out.blockOutChannels = blocks;
  if (typeof j.layers_per_block === 'number') out.layersPerBlock = j.layers_per_block;
  if (typeof j.norm_num_groups === 'number') out.normGroups = j.norm_num_groups;
  if (typeof j.norm_eps === 'number') out.normEps = j.norm_eps;
  if (typeof j.dropout === 'number') out.dropout = j.dropout;
  if (typeof j.freq_shift === 'number') out.freqShift = j.freq_shift;
  if (typeof j.flip_sin_to_cos === 'boolean') out.flipSinToCos = j.flip_sin_to_cos;
  if (typeof j.downsample_padding === 'number') out.downsamplePadding = j.downsample_padding;
  if (typeof j.attention_head_dim === 'number') out.attentionHeadDim = j.attention_head_dim;
  if (j.add_attention === false) out.midAttention = false;
  const down = j.down_block_types as string[] | undefined;
  if (down) out.attentionResolutions = down.map((t, i) => (t.startsWith('Attn') ? Math.ceil(sample / 2 ** i) : -1)).filter((r) => r > 0);
  for (const [k, want] of [
    ['time_embedding_type', 'positional'],
    ['resnet_time_scale_shift', 'default'],
    ['act_fn', 'silu'],
    ['center_input_sample', false],
  ] as const) {
    if (j[k] !== undefined && j[k] !== want)
      throw new DataFormatError(file, `${k} = ${JSON.stringify(j[k])} is not supported (expected ${JSON.stringify(want)})`);
  }
  return out;
}

/** Infer a UNet config from tensor shapes, starting from `base` (a preset) and overridden by `overrides`. */
export function inferUNetConfig(tensors: Map<string, RawTensor>, base: UNetConfig, overrides: Partial<UNetConfig> = {}): UNetConfig {
  const names = [...tensors.keys()];
  const levels = countIndexed(names, /^down_blocks\.(\d+)\./);
  const c: UNetConfig = { ...base };
  if (levels > 0) {
    c.blockOutChannels = Array.from({ length: levels }, (_, i) => shapeOf(tensors, `down_blocks.${i}.resnets.0.conv1.weight`)?.[0] ?? 0);
    c.layersPerBlock = countIndexed(names, /^down_blocks\.0\.resnets\.(\d+)\./);
  }
  const ci = shapeOf(tensors, 'conv_in.weight');
  if (ci) c.inChannels = ci[1];
  const co = shapeOf(tensors, 'conv_out.weight');
  if (co) c.outChannels = co[0];
  c.midAttention = names.some((n) => n.startsWith('mid_block.attentions.0.'));
  const sample = overrides.sampleSize ?? c.sampleSize;
  c.attentionResolutions = [];
  for (let i = 0; i < levels; i++)
    if (names.some((n) => n.startsWith(`down_blocks.${i}.attentions.0.`))) c.attentionResolutions.push(Math.ceil(sample / 2 ** i));
  return { ...c, ...overrides } as UNetConfig;
}

/** Infer a classifier config (numClasses, input channels, widths) from tensor shapes. */
export function inferClassifierConfig(arch: ClassifierArch, tensors: Map<string, RawTensor>): ClassifierConfig {
  const d = defaultClassifierConfig(arch);
  const names = [...tensors.keys()];
  const cfg: ClassifierConfig = { ...d };
  const setChannels = (cin: number | undefined): void => {
    if (!cin || cin === d.inputShape[2]) return;
    cfg.inputShape = [d.inputShape[0], d.inputShape[1], cin];
    cfg.mean = new Array<number>(cin).fill(0);
    cfg.std = new Array<number>(cin).fill(1);
  };
  if (arch === 'small-cnn') {
    const c1 = shapeOf(tensors, 'feature_extractor.conv1.weight');
    const c3 = shapeOf(tensors, 'feature_extractor.conv3.weight');
    const f1 = shapeOf(tensors, 'classifier.fc1.weight');
    const f3 = shapeOf(tensors, 'classifier.fc3.weight');
    if (c1 && c3) cfg.channels = [c1[0], c3[0]];
    if (f1) cfg.hidden = f1[0];
    if (f3) cfg.numClasses = f3[0];
    setChannels(c1?.[1]);
    if (f1 && c3) {
      const side = Math.round(Math.sqrt(f1[1] / c3[0]));
      const h = (side * 2 + 4) * 2 + 4;
      cfg.inputShape = [h, h, cfg.inputShape[2]];
    }
    return cfg;
  }
  const c1 = shapeOf(tensors, 'conv1.weight');
  setChannels(c1?.[1]);
  if (arch === 'resnet20' || arch === 'resnet56') {
    if (c1) cfg.width = c1[0];
    cfg.blocksPerStage = countIndexed(names, /^layer1\.(\d+)\.conv1\.weight$/) || undefined;
    const l = shapeOf(tensors, 'linear.weight');
    if (l) cfg.numClasses = l[0];
  } else if (arch === 'preact-resnet18') {
    if (c1) cfg.width = c1[0];
    cfg.blocksPerStage = [1, 2, 3, 4].map((s) => countIndexed(names, new RegExp(`^layer${s}\\.(\\d+)\\.conv1\\.weight$`)));
    const l = shapeOf(tensors, 'linear.weight');
    if (l) cfg.numClasses = l[0];
  } else if (arch === 'wrn-28-10') {
    const n = countIndexed(names, /^block1\.layer\.(\d+)\.conv1\.weight$/);
    if (n) cfg.depth = 6 * n + 4;
    const b1 = shapeOf(tensors, 'block1.layer.0.conv1.weight');
    if (c1) cfg.baseWidth = c1[0];
    if (b1 && c1) cfg.widenFactor = b1[0] / c1[0];
    const f = shapeOf(tensors, 'fc.weight');
    if (f) cfg.numClasses = f[0];
  }
  for (const k of Object.keys(cfg)) if (cfg[k] === undefined) delete cfg[k];
  return cfg;
}

/**
 * Read a PyTorch checkpoint (or a plain safetensors file) and load it into one of the project's
 * architectures. A diffusers `config.json` next to the file is used for a UNet when present.
 */
export function convertWeights(file: string, opts: ConvertOptions = {}): ConvertResult {
  const src = readWeightsFile(file, opts.key);
  let tensors = src.tensors;
  // A dbp-bench file already says what it is: its architecture, config and input normalisation carry
  // over; an option that changes one of them is applied and reported.
  const prior = dbpBenchSource(src.metadata);
  const warnings: string[] = [];
  if (prior && opts.arch && opts.arch !== prior.arch)
    warnings.push(`--arch ${opts.arch} replaces the architecture '${prior.arch}' recorded in ${path.basename(file)}`);
  const arch = opts.arch ?? (prior?.arch as ArchId | undefined) ?? inferArch(tensors);
  if (!arch) {
    throw new ConfigValidationError('weights convert', [
      `--arch: cannot infer the architecture of ${file} from its tensor names (e.g. ${[...tensors.keys()].slice(0, 5).join(', ')}); pass --arch unet|${CLASSIFIER_ARCHS.join('|')}`,
    ]);
  }
  let model: UNet | ClassifierModel;
  if (arch === 'unet') {
    tensors = renameLegacyDiffusers(tensors);
    let overrides: Partial<UNetConfig> = {};
    const side = path.join(path.dirname(file), 'config.json');
    if (fs.existsSync(side)) {
      const j = readJsonChecked(side, 'a diffusers config.json') as Record<string, unknown> | null;
      if (j && typeof j === 'object' && j._class_name === 'UNet2DModel') overrides = unetConfigFromDiffusers(j, side);
    }
    const carried = prior?.arch === 'unet' ? (prior.config as Partial<UNetConfig>) : {};
    overrides = { ...overrides, ...carried, ...((opts.config ?? {}) as Partial<UNetConfig>) };
    const config = inferUNetConfig(tensors, UNET_PRESETS[opts.preset ?? 'ddpm-cifar10'], overrides);
    model = new UNet(config);
  } else {
    if (!CLASSIFIER_ARCHS.includes(arch))
      throw new ConfigValidationError('weights convert', [
        `--arch: unknown architecture '${arch}'; expected unet or one of ${CLASSIFIER_ARCHS.join(', ')}`,
      ]);
    const carried = prior?.arch === arch ? prior.config : {};
    const cfg = { ...inferClassifierConfig(arch, tensors), ...carried, ...(opts.config ?? {}) } as ClassifierConfig;
    if (opts.numClasses !== undefined) cfg.numClasses = opts.numClasses;
    if (opts.mean) cfg.mean = opts.mean;
    if (opts.std) cfg.std = opts.std;
    if (prior?.arch === arch) {
      for (const k of ['mean', 'std'] as const) {
        if (!sameNumbers(cfg[k], prior.config[k]))
          warnings.push(
            `the input normalisation ${k} changes from ${JSON.stringify(prior.config[k])} (recorded in ${path.basename(file)}) to ${JSON.stringify(cfg[k])}`,
          );
      }
    } else if (!prior && !opts.mean && !opts.std) {
      warnings.push(
        `no input normalisation given: the classifier will see inputs in [0, 1] as they are (mean 0, std 1); if it was trained on normalised inputs, convert again with --mean and --std (the per-channel values of the model's training transform)`,
      );
    }
    model = createClassifier(arch, cfg);
  }
  try {
    const report = applyStateDict(model, tensors, { source: file, strict: !opts.allowUnexpected });
    return { model, arch, format: src.format, statePath: src.path, strippedPrefix: src.strippedPrefix, report, warnings };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
