/**
 * Image classifiers with PyTorch state-dict names, so that published checkpoints import:
 * - `small-cnn`: the TRADES MNIST SmallCNN (feature_extractor.conv1..4, classifier.fc1..3);
 * - `resnet20` / `resnet56`: akamaster/pytorch_resnet_cifar10 (option A shortcuts: stride-2 subsample
 *   and zero channel padding, no parameters);
 * - `preact-resnet18`: the PreActResNet-18 of RobustBench / Rice et al. (final `bn` before pooling);
 * - `wrn-28-10`: RobustBench `Standard` WideResNet (block1.layer.0.bn1 ...).
 * Each model holds its input normalisation and applies it inside logits(x in [0,1]).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Classifier, Trainable } from '@dbp-bench/framework';
import { ConfigValidationError, UnknownPluginError } from '@dbp-bench/framework';
import { ParamModule, batchNorm, conv2d, dropout, linear, normalizeInput, type BatchNormP, type Conv, type Linear } from './nn';

export type ClassifierArch = 'small-cnn' | 'resnet20' | 'resnet56' | 'preact-resnet18' | 'wrn-28-10';
export const CLASSIFIER_ARCHS: readonly ClassifierArch[] = ['small-cnn', 'resnet20', 'resnet56', 'preact-resnet18', 'wrn-28-10'];

/**
 * Classifier configuration. Arch-specific extras (all optional):
 * - small-cnn: `channels` [c1, c2] (default [32, 64]), `hidden` (200), `dropout` (0.5);
 * - resnet20/56: `width` (16), `blocksPerStage` (3 / 9);
 * - preact-resnet18: `width` (64), `blocksPerStage` ([2, 2, 2, 2]);
 * - wrn-28-10: `depth` (28), `widenFactor` (10), `dropRate` (0), `baseWidth` (16; channels [b, b·k, 2b·k, 4b·k]).
 */
export interface ClassifierConfig {
  numClasses: number;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  mean: number[];
  std: number[];
  [k: string]: unknown;
}

export interface ClassifierModel extends Classifier, Trainable {
  readonly arch: ClassifierArch;
  readonly config: ClassifierConfig;
  namedWeights(): Map<string, tf.Variable>;
  parameterCount(): number;
  dispose(): void;
}

/** Base: parameter store, train/eval mode, input normalisation. */
abstract class BaseClassifier extends ParamModule implements ClassifierModel {
  readonly numClasses: number;
  constructor(
    readonly arch: ClassifierArch,
    readonly config: ClassifierConfig,
    seed: number,
  ) {
    super(seed);
    this.numClasses = config.numClasses;
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    const [h, w, c] = this.config.inputShape;
    if (x.rank !== 4 || x.shape[3] !== c) {
      throw new ConfigValidationError(`${this.arch} input`, [
        `x: expected NHWC with ${c} channels (inputShape ${h}x${w}x${c}), got shape [${x.shape.join(', ')}]`,
      ]);
    }
    return tf.tidy(() => this.forward(normalizeInput(x, this.config.mean, this.config.std)));
  }
  protected abstract forward(x: tf.Tensor4D): tf.Tensor2D;
  protected bnRelu(x: tf.Tensor4D, bn: BatchNormP): tf.Tensor4D {
    return tf.relu(batchNorm(x, bn, this.training));
  }
}

const globalAvgPool = (x: tf.Tensor4D): tf.Tensor2D => tf.mean(x, [1, 2]) as tf.Tensor2D;

// ------------------------------------------------------------------------------------------------

/** TRADES SmallCNN for MNIST: 4 valid 3x3 convs (2 max-pools), fc 200-200-classes, dropout 0.5 after fc1. */
class SmallCnn extends BaseClassifier {
  private readonly convs: Conv[];
  private readonly fcs: Linear[];
  private readonly drop: number;
  constructor(config: ClassifierConfig, seed: number) {
    super('small-cnn', config, seed);
    const [h, w, cin] = config.inputShape;
    const [c1, c2] = (config.channels as number[] | undefined) ?? [32, 64];
    const hidden = (config.hidden as number | undefined) ?? 200;
    this.drop = (config.dropout as number | undefined) ?? 0.5;
    const p = this.params;
    this.convs = [
      p.conv('feature_extractor.conv1', 3, cin, c1),
      p.conv('feature_extractor.conv2', 3, c1, c1),
      p.conv('feature_extractor.conv3', 3, c1, c2),
      p.conv('feature_extractor.conv4', 3, c2, c2),
    ];
    const fh = Math.floor((Math.floor((h - 4) / 2) - 4) / 2);
    const fw = Math.floor((Math.floor((w - 4) / 2) - 4) / 2);
    if (fh < 1 || fw < 1)
      throw new ConfigValidationError('small-cnn config', [`inputShape: ${h}x${w} is too small (needs at least 14x14)`]);
    this.fcs = [
      p.linear('classifier.fc1', c2 * fh * fw, hidden),
      p.linear('classifier.fc2', hidden, hidden),
      p.linear('classifier.fc3', hidden, config.numClasses),
    ];
  }
  protected forward(x: tf.Tensor4D): tf.Tensor2D {
    let h = tf.relu(conv2d(x, this.convs[0]));
    h = tf.relu(conv2d(h, this.convs[1]));
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(conv2d(h, this.convs[2]));
    h = tf.relu(conv2d(h, this.convs[3]));
    h = tf.maxPool(h, 2, 2, 'valid');
    // torch flattens NCHW: transpose back before the flatten so fc1 weights match.
    const n = h.shape[0];
    let f = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [n, -1]) as tf.Tensor2D;
    f = tf.relu(linear(f, this.fcs[0]));
    f = dropout(f, this.drop, this.training);
    f = tf.relu(linear(f, this.fcs[1]));
    return linear(f, this.fcs[2]);
  }
}

// ------------------------------------------------------------------------------------------------

interface BasicBlockA {
  conv1: Conv;
  bn1: BatchNormP;
  conv2: Conv;
  bn2: BatchNormP;
  stride: number;
  /** Option A shortcut as a constant 1x1 stride-2 conv: subsample and zero-pad planes//4 channels on each side. */
  shortcut?: tf.Tensor4D;
}

/** ResNet-20/56 for CIFAR, akamaster/pytorch_resnet_cifar10 layout (option A shortcuts). */
class CifarResNet extends BaseClassifier {
  private readonly conv1: Conv;
  private readonly bn1: BatchNormP;
  private readonly blocks: BasicBlockA[] = [];
  private readonly fc: Linear;
  constructor(arch: 'resnet20' | 'resnet56', config: ClassifierConfig, seed: number) {
    super(arch, config, seed);
    const width = (config.width as number | undefined) ?? 16;
    const nb = (config.blocksPerStage as number | undefined) ?? (arch === 'resnet20' ? 3 : 9);
    const p = this.params;
    this.conv1 = p.conv('conv1', 3, config.inputShape[2], width, false);
    this.bn1 = p.batchNorm('bn1', width);
    let inPlanes = width;
    [1, 2, 4].forEach((mult, s) => {
      const planes = width * mult;
      for (let b = 0; b < nb; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        const name = `layer${s + 1}.${b}`;
        this.blocks.push({
          conv1: p.conv(`${name}.conv1`, 3, inPlanes, planes, false),
          bn1: p.batchNorm(`${name}.bn1`, planes),
          conv2: p.conv(`${name}.conv2`, 3, planes, planes, false),
          bn2: p.batchNorm(`${name}.bn2`, planes),
          stride,
          shortcut: stride !== 1 || inPlanes !== planes ? optionAShortcut(inPlanes, planes) : undefined,
        });
        inPlanes = planes;
      }
    });
    this.fc = p.linear('linear', inPlanes, config.numClasses);
  }
  protected forward(x: tf.Tensor4D): tf.Tensor2D {
    let h = this.bnRelu(conv2d(x, this.conv1, 1, 1), this.bn1);
    for (const b of this.blocks) {
      let o = this.bnRelu(conv2d(h, b.conv1, b.stride, 1), b.bn1);
      o = batchNorm(conv2d(o, b.conv2, 1, 1), b.bn2, this.training);
      // option A: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4))
      const s = b.shortcut ? tf.conv2d(h, b.shortcut, b.stride, 'valid') : h;
      h = tf.relu(tf.add(o, s)) as tf.Tensor4D;
    }
    return linear(globalAvgPool(h), this.fc);
  }
  override dispose(): void {
    for (const b of this.blocks) b.shortcut?.dispose();
    super.dispose();
  }
}

/** The option-A shortcut of akamaster's ResNet as a constant 1x1 filter: identity into channels [planes//4, planes//4 + cin). */
function optionAShortcut(cin: number, planes: number): tf.Tensor4D {
  const pad = Math.floor(planes / 4);
  if (cin + 2 * pad !== planes)
    throw new ConfigValidationError('resnet config', [`option-A shortcut cannot map ${cin} to ${planes} channels`]);
  const w = new Float32Array(cin * planes);
  for (let i = 0; i < cin; i++) w[i * planes + pad + i] = 1;
  return tf.keep(tf.tensor4d(w, [1, 1, cin, planes]));
}

// ------------------------------------------------------------------------------------------------

interface PreActBlock {
  bn1: BatchNormP;
  conv1: Conv;
  bn2: BatchNormP;
  conv2: Conv;
  shortcut?: Conv;
  stride: number;
}

/** PreAct-ResNet-18 (RobustBench / Rice et al. 2020 layout, with a final `bn`). */
class PreActResNet18 extends BaseClassifier {
  private readonly conv1: Conv;
  private readonly blocks: PreActBlock[] = [];
  private readonly bn: BatchNormP;
  private readonly fc: Linear;
  constructor(config: ClassifierConfig, seed: number) {
    super('preact-resnet18', config, seed);
    const width = (config.width as number | undefined) ?? 64;
    const nb = (config.blocksPerStage as number[] | undefined) ?? [2, 2, 2, 2];
    const p = this.params;
    this.conv1 = p.conv('conv1', 3, config.inputShape[2], width, false);
    let inPlanes = width;
    nb.forEach((count, s) => {
      const planes = width * 2 ** s;
      for (let b = 0; b < count; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        const name = `layer${s + 1}.${b}`;
        this.blocks.push({
          bn1: p.batchNorm(`${name}.bn1`, inPlanes),
          conv1: p.conv(`${name}.conv1`, 3, inPlanes, planes, false),
          bn2: p.batchNorm(`${name}.bn2`, planes),
          conv2: p.conv(`${name}.conv2`, 3, planes, planes, false),
          shortcut: stride !== 1 || inPlanes !== planes ? p.conv(`${name}.shortcut.0`, 1, inPlanes, planes, false) : undefined,
          stride,
        });
        inPlanes = planes;
      }
    });
    this.bn = p.batchNorm('bn', inPlanes);
    this.fc = p.linear('linear', inPlanes, config.numClasses);
  }
  protected forward(x: tf.Tensor4D): tf.Tensor2D {
    let h = conv2d(x, this.conv1, 1, 1);
    for (const b of this.blocks) {
      const o = this.bnRelu(h, b.bn1);
      const s = b.shortcut ? conv2d(o, b.shortcut, b.stride, 0) : h;
      let r = conv2d(o, b.conv1, b.stride, 1);
      r = conv2d(this.bnRelu(r, b.bn2), b.conv2, 1, 1);
      h = tf.add(r, s);
    }
    return linear(globalAvgPool(this.bnRelu(h, this.bn)), this.fc);
  }
}

// ------------------------------------------------------------------------------------------------

interface WrnBlock {
  bn1: BatchNormP;
  conv1: Conv;
  bn2: BatchNormP;
  conv2: Conv;
  convShortcut?: Conv;
  stride: number;
}

/** WideResNet, RobustBench `Standard` layout (block{1,2,3}.layer.{i}.{bn1,conv1,bn2,conv2,convShortcut}, bn1, fc). */
class WideResNet extends BaseClassifier {
  private readonly conv1: Conv;
  private readonly blocks: WrnBlock[] = [];
  private readonly bn1: BatchNormP;
  private readonly fc: Linear;
  private readonly dropRate: number;
  constructor(config: ClassifierConfig, seed: number) {
    super('wrn-28-10', config, seed);
    const depth = (config.depth as number | undefined) ?? 28;
    const k = (config.widenFactor as number | undefined) ?? 10;
    this.dropRate = (config.dropRate as number | undefined) ?? 0;
    if ((depth - 4) % 6 !== 0) throw new ConfigValidationError('wrn-28-10 config', [`depth: ${depth} must be 6n+4`]);
    const n = (depth - 4) / 6;
    const w0 = (config.baseWidth as number | undefined) ?? 16;
    const ch = [w0, w0 * k, 2 * w0 * k, 4 * w0 * k];
    const p = this.params;
    this.conv1 = p.conv('conv1', 3, config.inputShape[2], ch[0], false);
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < n; i++) {
        const cin = i === 0 ? ch[s] : ch[s + 1];
        const cout = ch[s + 1];
        const name = `block${s + 1}.layer.${i}`;
        this.blocks.push({
          bn1: p.batchNorm(`${name}.bn1`, cin),
          conv1: p.conv(`${name}.conv1`, 3, cin, cout, false),
          bn2: p.batchNorm(`${name}.bn2`, cout),
          conv2: p.conv(`${name}.conv2`, 3, cout, cout, false),
          convShortcut: cin !== cout ? p.conv(`${name}.convShortcut`, 1, cin, cout, false) : undefined,
          stride: i === 0 && s > 0 ? 2 : 1,
        });
      }
    }
    this.bn1 = p.batchNorm('bn1', ch[3]);
    this.fc = p.linear('fc', ch[3], config.numClasses);
  }
  protected forward(x: tf.Tensor4D): tf.Tensor2D {
    let h = conv2d(x, this.conv1, 1, 1);
    for (const b of this.blocks) {
      const a = this.bnRelu(h, b.bn1);
      let o = this.bnRelu(conv2d(a, b.conv1, b.stride, 1), b.bn2);
      o = dropout(o, this.dropRate, this.training);
      o = conv2d(o, b.conv2, 1, 1);
      // not equalInOut: the shortcut takes the activated input; equalInOut: the raw input.
      h = tf.add(b.convShortcut ? conv2d(a, b.convShortcut, b.stride, 0) : h, o);
    }
    return linear(globalAvgPool(this.bnRelu(h, this.bn1)), this.fc);
  }
}

// ------------------------------------------------------------------------------------------------

/** Check a classifier configuration; throws ConfigValidationError listing every problem. */
export function validateClassifierConfig(arch: string, config: ClassifierConfig): void {
  const problems: string[] = [];
  if (!Number.isInteger(config.numClasses) || config.numClasses < 1)
    problems.push(`numClasses: expected a positive integer, got ${JSON.stringify(config.numClasses)}`);
  const s = config.inputShape;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((v) => Number.isInteger(v) && v > 0))
    problems.push(`inputShape: expected [height, width, channels], got ${JSON.stringify(s)}`);
  else {
    for (const [f, v] of [
      ['mean', config.mean],
      ['std', config.std],
    ] as const) {
      if (!Array.isArray(v) || v.length !== s[2] || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) {
        problems.push(`${f}: expected ${s[2]} numbers (one per channel), got ${JSON.stringify(v)}`);
      }
    }
    if (Array.isArray(config.std) && config.std.some((e) => e === 0)) problems.push('std: must not contain 0');
  }
  if (problems.length) throw new ConfigValidationError(`${arch} config`, problems);
}

/** Create a classifier with PyTorch-default initialisation from `seed`. */
export function createClassifier(arch: ClassifierArch, config: ClassifierConfig, seed = 0): ClassifierModel {
  if (!CLASSIFIER_ARCHS.includes(arch)) throw new UnknownPluginError('architecture', arch, CLASSIFIER_ARCHS);
  validateClassifierConfig(arch, config);
  const cfg = JSON.parse(JSON.stringify(config)) as ClassifierConfig;
  switch (arch) {
    case 'small-cnn':
      return new SmallCnn(cfg, seed);
    case 'resnet20':
    case 'resnet56':
      return new CifarResNet(arch, cfg, seed);
    case 'preact-resnet18':
      return new PreActResNet18(cfg, seed);
    case 'wrn-28-10':
      return new WideResNet(cfg, seed);
  }
}

/** Default configurations: CIFAR-10 archs take [0,1] inputs with no normalisation unless set. */
export function defaultClassifierConfig(arch: ClassifierArch, numClasses = 10): ClassifierConfig {
  if (arch === 'small-cnn') return { numClasses, inputShape: [28, 28, 1], mean: [0], std: [1] };
  return { numClasses, inputShape: [32, 32, 3], mean: [0, 0, 0], std: [1, 1, 1] };
}
