/**
 * The epsilon-prediction diffusion UNet, structured like diffusers' `UNet2DModel` with
 * `DownBlock2D`/`AttnDownBlock2D` down blocks, `UNetMidBlock2D` and `UpBlock2D`/`AttnUpBlock2D` up blocks,
 * so that every parameter has its diffusers state-dict name (see README, "UNet parameter names").
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EpsModel, Trainable } from '@dbp-bench/framework';
import { ConfigValidationError } from '@dbp-bench/framework';
import { ParamModule, conv2d, dropout, groupNorm, linear, silu, upsampleConv3x3, type Conv, type GroupNormP, type Linear } from './nn';

/** A diffusers `UNet2DModel`-like configuration. */
export interface UNetConfig {
  sampleSize: number;
  inChannels: number;
  outChannels: number;
  /** Channels per level, e.g. [128, 256, 256, 256]; one level per entry, a 2x downsample between levels. */
  blockOutChannels: number[];
  /** Res blocks per level on the way down; up levels use layersPerBlock + 1. */
  layersPerBlock: number;
  /** Feature-map sizes (height) whose levels have attention after each res block, e.g. [16]. */
  attentionResolutions: number[];
  dropout: number;
  normGroups: number;
  normEps: number;
  /** Channels per attention head; default: all channels in one head (diffusers `attention_head_dim: null`). */
  attentionHeadDim?: number;
  /** Timestep embedding: diffusers `flip_sin_to_cos` (default false, as google/ddpm-cifar10-32). */
  flipSinToCos?: boolean;
  /** Timestep embedding: diffusers `freq_shift` (default 1, as google/ddpm-cifar10-32). */
  freqShift?: number;
  /** diffusers `downsample_padding` (default 0: pad right/bottom by 1, then a valid stride-2 conv). */
  downsamplePadding?: number;
  /** Attention in the middle block (diffusers `add_attention`, default true). */
  midAttention?: boolean;
}

export type UNetPreset = 'tiny' | 'small' | 'mnist' | 'ddpm-cifar10';

/** Named configurations. `ddpm-cifar10` is google/ddpm-cifar10-32 (Ho et al. 2020), 35,746,307 parameters. */
export const UNET_PRESETS: Record<UNetPreset, UNetConfig> = {
  /** For unit tests: 8 groups, 2 levels, attention at 8x8 (on 16x16 inputs). */
  tiny: {
    sampleSize: 16,
    inChannels: 3,
    outChannels: 3,
    blockOutChannels: [16, 32],
    layersPerBlock: 1,
    attentionResolutions: [8],
    dropout: 0,
    normGroups: 8,
    normEps: 1e-6,
  },
  /** The configuration of the PyTorch CPU reference (docs/PERFORMANCE.md): base 64, mult (1,2,2), 2 res blocks, attention at 16; 6,472,195 parameters in this (diffusers) layout. */
  small: {
    sampleSize: 32,
    inChannels: 3,
    outChannels: 3,
    blockOutChannels: [64, 128, 128],
    layersPerBlock: 2,
    attentionResolutions: [16],
    dropout: 0.1,
    normGroups: 32,
    normEps: 1e-6,
  },
  /** MNIST 28x28x1: channels [32, 64], one res block per level; attention only in the 14x14 middle block. */
  mnist: {
    sampleSize: 28,
    inChannels: 1,
    outChannels: 1,
    blockOutChannels: [32, 64],
    layersPerBlock: 1,
    attentionResolutions: [],
    dropout: 0.1,
    normGroups: 8,
    normEps: 1e-6,
  },
  /** google/ddpm-cifar10-32: ch 128, mult (1,2,2,2), 2 res blocks, attention at 16, dropout 0.1. */
  'ddpm-cifar10': {
    sampleSize: 32,
    inChannels: 3,
    outChannels: 3,
    blockOutChannels: [128, 256, 256, 256],
    layersPerBlock: 2,
    attentionResolutions: [16],
    dropout: 0.1,
    normGroups: 32,
    normEps: 1e-6,
  },
};

/** Validate a UNet configuration; throws ConfigValidationError listing every problem. */
export function validateUNetConfig(c: UNetConfig, what = 'UNet config'): void {
  const problems: string[] = [];
  const posInt = (v: unknown, f: string): void => {
    if (!Number.isInteger(v) || (v as number) <= 0) problems.push(`${f}: expected a positive integer, got ${JSON.stringify(v)}`);
  };
  posInt(c.sampleSize, 'sampleSize');
  posInt(c.inChannels, 'inChannels');
  posInt(c.outChannels, 'outChannels');
  posInt(c.layersPerBlock, 'layersPerBlock');
  posInt(c.normGroups, 'normGroups');
  if (!Array.isArray(c.blockOutChannels) || c.blockOutChannels.length === 0) problems.push('blockOutChannels: expected a non-empty array');
  else
    c.blockOutChannels.forEach((ch, i) => {
      posInt(ch, `blockOutChannels[${i}]`);
      if (Number.isInteger(ch) && ch % c.normGroups !== 0)
        problems.push(`blockOutChannels[${i}]: ${ch} is not divisible by normGroups ${c.normGroups}`);
      if (c.attentionHeadDim !== undefined && ch % c.attentionHeadDim !== 0)
        problems.push(`blockOutChannels[${i}]: ${ch} is not divisible by attentionHeadDim ${c.attentionHeadDim}`);
    });
  if (!Array.isArray(c.attentionResolutions)) problems.push('attentionResolutions: expected an array of feature-map sizes');
  if (!(typeof c.dropout === 'number' && c.dropout >= 0 && c.dropout < 1))
    problems.push(`dropout: expected a number in [0, 1), got ${JSON.stringify(c.dropout)}`);
  if (!(typeof c.normEps === 'number' && c.normEps > 0))
    problems.push(`normEps: expected a positive number, got ${JSON.stringify(c.normEps)}`);
  if (c.blockOutChannels?.[0] !== undefined && c.blockOutChannels[0] % 2 !== 0)
    problems.push('blockOutChannels[0]: the time embedding needs an even width');
  if (Number.isInteger(c.sampleSize) && Array.isArray(c.blockOutChannels) && c.sampleSize % 2 ** (c.blockOutChannels.length - 1) !== 0) {
    problems.push(`sampleSize: ${c.sampleSize} must be divisible by 2^${c.blockOutChannels.length - 1} (one 2x downsample between levels)`);
  }
  if (c.downsamplePadding !== undefined && c.downsamplePadding !== 0 && c.downsamplePadding !== 1)
    problems.push('downsamplePadding: expected 0 or 1');
  if (problems.length) throw new ConfigValidationError(what, problems);
}

interface ResnetP {
  norm1: GroupNormP;
  conv1: Conv;
  temb: Linear;
  norm2: GroupNormP;
  conv2: Conv;
  shortcut?: Conv;
}
interface AttnP {
  norm: GroupNormP;
  q: Linear;
  k: Linear;
  v: Linear;
  out: Linear;
  heads: number;
}
interface DownP {
  resnets: ResnetP[];
  attentions: AttnP[];
  down?: Conv;
}
interface UpP {
  resnets: ResnetP[];
  attentions: AttnP[];
  up?: Conv;
}

/**
 * Sinusoidal timestep embedding, diffusers `get_timestep_embedding`:
 * freqs_i = exp(-ln(10000) * i / (half - freqShift)), emb = [sin(t f), cos(t f)] (swapped when flipSinToCos).
 */
export function timestepEmbedding(t: tf.Tensor1D, dim: number, flipSinToCos: boolean, freqShift: number): tf.Tensor2D {
  return tf.tidy(() => {
    const half = Math.floor(dim / 2);
    const freqs = new Float32Array(half);
    for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / (half - freqShift));
    const arg = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    const parts = flipSinToCos ? [tf.cos(arg), tf.sin(arg)] : [tf.sin(arg), tf.cos(arg)];
    let emb = tf.concat(parts, 1) as tf.Tensor2D;
    if (dim % 2 === 1)
      emb = tf.pad(emb, [
        [0, 0],
        [0, 1],
      ]);
    return emb;
  });
}

/**
 * The diffusion UNet. Input x NHWC in [-1, 1], t one (float) timestep per row; output eps NHWC.
 * Dropout is active only after setTraining(true).
 */
export class UNet extends ParamModule implements EpsModel, Trainable {
  readonly config: UNetConfig;
  private readonly convIn: Conv;
  private readonly time1: Linear;
  private readonly time2: Linear;
  private readonly down: DownP[] = [];
  private readonly mid: { resnets: ResnetP[]; attentions: AttnP[] };
  private readonly up: UpP[] = [];
  private readonly normOut: GroupNormP;
  private readonly convOut: Conv;

  constructor(config: UNetConfig, seed = 0) {
    validateUNetConfig(config);
    super(seed);
    this.config = { ...config, blockOutChannels: [...config.blockOutChannels], attentionResolutions: [...config.attentionResolutions] };
    const c = this.config;
    const p = this.params;
    const ch = c.blockOutChannels;
    const tembDim = ch[0] * 4;
    const g = c.normGroups;
    const eps = c.normEps;
    const resnet = (name: string, cin: number, cout: number): ResnetP => ({
      norm1: p.groupNorm(`${name}.norm1`, cin, g, eps),
      conv1: p.conv(`${name}.conv1`, 3, cin, cout),
      temb: p.linear(`${name}.time_emb_proj`, tembDim, cout),
      norm2: p.groupNorm(`${name}.norm2`, cout, g, eps),
      conv2: p.conv(`${name}.conv2`, 3, cout, cout),
      shortcut: cin !== cout ? p.conv(`${name}.conv_shortcut`, 1, cin, cout) : undefined,
    });
    const attention = (name: string, channels: number): AttnP => ({
      norm: p.groupNorm(`${name}.group_norm`, channels, g, eps),
      q: p.linear(`${name}.to_q`, channels, channels),
      k: p.linear(`${name}.to_k`, channels, channels),
      v: p.linear(`${name}.to_v`, channels, channels),
      out: p.linear(`${name}.to_out.0`, channels, channels),
      heads: c.attentionHeadDim ? channels / c.attentionHeadDim : 1,
    });

    this.convIn = p.conv('conv_in', 3, c.inChannels, ch[0]);
    this.time1 = p.linear('time_embedding.linear_1', ch[0], tembDim);
    this.time2 = p.linear('time_embedding.linear_2', tembDim, tembDim);
    const L = ch.length;
    const resAt = (level: number): number => Math.ceil(c.sampleSize / 2 ** level);
    let outCh = ch[0];
    for (let i = 0; i < L; i++) {
      const inCh = outCh;
      outCh = ch[i];
      const attn = c.attentionResolutions.includes(resAt(i));
      const blk: DownP = { resnets: [], attentions: [] };
      for (let j = 0; j < c.layersPerBlock; j++) {
        blk.resnets.push(resnet(`down_blocks.${i}.resnets.${j}`, j === 0 ? inCh : outCh, outCh));
        if (attn) blk.attentions.push(attention(`down_blocks.${i}.attentions.${j}`, outCh));
      }
      if (i < L - 1) blk.down = p.conv(`down_blocks.${i}.downsamplers.0.conv`, 3, outCh, outCh);
      this.down.push(blk);
    }
    const midCh = ch[L - 1];
    this.mid = {
      resnets: [resnet('mid_block.resnets.0', midCh, midCh), resnet('mid_block.resnets.1', midCh, midCh)],
      attentions: c.midAttention === false ? [] : [attention('mid_block.attentions.0', midCh)],
    };
    const rev = [...ch].reverse();
    outCh = rev[0];
    for (let i = 0; i < L; i++) {
      const prevOut = outCh;
      outCh = rev[i];
      const inCh = rev[Math.min(i + 1, L - 1)];
      const attn = c.attentionResolutions.includes(resAt(L - 1 - i));
      const blk: UpP = { resnets: [], attentions: [] };
      const n = c.layersPerBlock + 1;
      for (let j = 0; j < n; j++) {
        const skip = j === n - 1 ? inCh : outCh;
        const rin = j === 0 ? prevOut : outCh;
        blk.resnets.push(resnet(`up_blocks.${i}.resnets.${j}`, rin + skip, outCh));
        if (attn) blk.attentions.push(attention(`up_blocks.${i}.attentions.${j}`, outCh));
      }
      if (i < L - 1) blk.up = p.conv(`up_blocks.${i}.upsamplers.0.conv`, 3, outCh, outCh);
      this.up.push(blk);
    }
    this.normOut = p.groupNorm('conv_norm_out', ch[0], g, eps);
    this.convOut = p.conv('conv_out', 3, ch[0], c.outChannels);
  }

  private resnet(x: tf.Tensor4D, temb: tf.Tensor2D, r: ResnetP): tf.Tensor4D {
    let h = conv2d(silu(groupNorm(x, r.norm1)) as tf.Tensor4D, r.conv1, 1, 1);
    const te = linear(silu(temb) as tf.Tensor2D, r.temb);
    h = tf.add(h, tf.reshape(te, [te.shape[0], 1, 1, te.shape[1]]));
    h = silu(groupNorm(h, r.norm2)) as tf.Tensor4D;
    h = dropout(h, this.config.dropout, this.training);
    h = conv2d(h, r.conv2, 1, 1);
    const s = r.shortcut ? conv2d(x, r.shortcut) : x;
    return tf.add(s, h);
  }

  private attention(x: tf.Tensor4D, a: AttnP): tf.Tensor4D {
    const [n, hh, ww, c] = x.shape;
    const hw = hh * ww;
    const hn = tf.reshape(groupNorm(x, a.norm), [n * hw, c]) as tf.Tensor2D;
    const heads = a.heads;
    const d = c / heads;
    const split = (t: tf.Tensor2D): tf.Tensor3D =>
      heads === 1
        ? (tf.reshape(t, [n, hw, c]) as tf.Tensor3D)
        : (tf.reshape(tf.transpose(tf.reshape(t, [n, hw, heads, d]), [0, 2, 1, 3]), [n * heads, hw, d]) as tf.Tensor3D);
    const q = split(linear(hn, a.q));
    const k = split(linear(hn, a.k));
    const v = split(linear(hn, a.v));
    const w = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d)));
    let o = tf.matMul(w, v) as tf.Tensor3D; // [n*heads, hw, d]
    if (heads !== 1) o = tf.transpose(tf.reshape(o, [n, heads, hw, d]), [0, 2, 1, 3]) as unknown as tf.Tensor3D;
    const out = linear(tf.reshape(o, [n * hw, c]) as tf.Tensor2D, a.out);
    return tf.add(x, tf.reshape(out, [n, hh, ww, c]));
  }

  private downsample(x: tf.Tensor4D, p: Conv): tf.Tensor4D {
    if ((this.config.downsamplePadding ?? 0) === 1) return conv2d(x, p, 2, 1);
    const [, h, w] = x.shape;
    // pad (0,1,0,1) then a valid stride-2 conv; equal to tfjs 'same' for even sizes.
    if (h % 2 === 0 && w % 2 === 0) return tf.add(tf.conv2d(x, p.w as tf.Tensor4D, 2, 'same'), p.b!);
    const xp = tf.pad(x, [
      [0, 0],
      [0, 1],
      [0, 1],
      [0, 0],
    ]);
    return tf.add(tf.conv2d(xp, p.w as tf.Tensor4D, 2, 'valid'), p.b!);
  }

  /** Predict the noise: x NHWC [-1,1], t [N] timesteps (0..999 for DDPM). */
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    const c = this.config;
    if (x.rank !== 4 || x.shape[3] !== c.inChannels) {
      throw new ConfigValidationError('UNet input', [`x: expected NHWC with ${c.inChannels} channels, got shape [${x.shape.join(', ')}]`]);
    }
    const f = 2 ** (c.blockOutChannels.length - 1);
    if (x.shape[1] % f !== 0 || x.shape[2] % f !== 0) {
      throw new ConfigValidationError('UNet input', [`x: height and width must be divisible by ${f}, got ${x.shape[1]}x${x.shape[2]}`]);
    }
    if (t.rank !== 1 || (t.shape[0] !== x.shape[0] && t.shape[0] !== 1)) {
      throw new ConfigValidationError('UNet input', [
        `t: expected one timestep per row (${x.shape[0]}) , got shape [${t.shape.join(', ')}]`,
      ]);
    }
    return tf.tidy(() => {
      const n = x.shape[0];
      const tt = t.shape[0] === n ? t : (tf.tile(t, [n]) as tf.Tensor1D);
      const emb0 = timestepEmbedding(tt, c.blockOutChannels[0], c.flipSinToCos ?? false, c.freqShift ?? 1);
      const temb = linear(silu(linear(emb0, this.time1)) as tf.Tensor2D, this.time2);
      let h = conv2d(x, this.convIn, 1, 1);
      const skips: tf.Tensor4D[] = [h];
      for (const blk of this.down) {
        blk.resnets.forEach((r, j) => {
          h = this.resnet(h, temb, r);
          if (blk.attentions.length) h = this.attention(h, blk.attentions[j]);
          skips.push(h);
        });
        if (blk.down) {
          h = this.downsample(h, blk.down);
          skips.push(h);
        }
      }
      h = this.resnet(h, temb, this.mid.resnets[0]);
      if (this.mid.attentions.length) h = this.attention(h, this.mid.attentions[0]);
      h = this.resnet(h, temb, this.mid.resnets[1]);
      for (const blk of this.up) {
        blk.resnets.forEach((r, j) => {
          const s = skips.pop()!;
          h = this.resnet(tf.concat([h, s], 3), temb, r);
          if (blk.attentions.length) h = this.attention(h, blk.attentions[j]);
        });
        if (blk.up) h = upsampleConv3x3(h, blk.up); // = conv2d(upsampleNearest2x(h), blk.up, 1, 1)
      }
      h = silu(groupNorm(h, this.normOut)) as tf.Tensor4D;
      return conv2d(h, this.convOut, 1, 1);
    });
  }
}

/** Parameter count of a configuration without allocating it (same formula as the constructor). */
export function unetParameterCount(c: UNetConfig): number {
  validateUNetConfig(c);
  const ch = c.blockOutChannels;
  const tembDim = ch[0] * 4;
  const conv = (k: number, i: number, o: number): number => k * k * i * o + o;
  const lin = (i: number, o: number): number => i * o + o;
  const gn = (x: number): number => 2 * x;
  const res = (i: number, o: number): number =>
    gn(i) + conv(3, i, o) + lin(tembDim, o) + gn(o) + conv(3, o, o) + (i !== o ? conv(1, i, o) : 0);
  const attn = (x: number): number => gn(x) + 4 * lin(x, x);
  const L = ch.length;
  const resAt = (level: number): number => Math.ceil(c.sampleSize / 2 ** level);
  let n = conv(3, c.inChannels, ch[0]) + lin(ch[0], tembDim) + lin(tembDim, tembDim);
  let outCh = ch[0];
  for (let i = 0; i < L; i++) {
    const inCh = outCh;
    outCh = ch[i];
    const a = c.attentionResolutions.includes(resAt(i));
    for (let j = 0; j < c.layersPerBlock; j++) n += res(j === 0 ? inCh : outCh, outCh) + (a ? attn(outCh) : 0);
    if (i < L - 1) n += conv(3, outCh, outCh);
  }
  n += 2 * res(ch[L - 1], ch[L - 1]) + (c.midAttention === false ? 0 : attn(ch[L - 1]));
  const rev = [...ch].reverse();
  outCh = rev[0];
  for (let i = 0; i < L; i++) {
    const prevOut = outCh;
    outCh = rev[i];
    const inCh = rev[Math.min(i + 1, L - 1)];
    const a = c.attentionResolutions.includes(resAt(L - 1 - i));
    const m = c.layersPerBlock + 1;
    for (let j = 0; j < m; j++) n += res((j === 0 ? prevOut : outCh) + (j === m - 1 ? inCh : outCh), outCh) + (a ? attn(outCh) : 0);
    if (i < L - 1) n += conv(3, outCh, outCh);
  }
  n += gn(ch[0]) + conv(3, ch[0], c.outChannels);
  return n;
}

/**
 * Multiply-add FLOPs (2 per MAC) of one forward pass for one sample at the config's sampleSize:
 * convolutions, linears and the attention products (norms and activations not counted). Nominal:
 * the upsampling convolutions are counted at the high resolution, as the direct form executes them
 * (this UNet computes them at the low resolution with 2.25x fewer, see `upsampleConv3x3`).
 */
export function unetForwardFlops(c: UNetConfig, size = c.sampleSize): number {
  validateUNetConfig(c);
  const ch = c.blockOutChannels;
  const tembDim = ch[0] * 4;
  const L = ch.length;
  const conv = (k: number, i: number, o: number, hw: number): number => 2 * k * k * i * o * hw;
  const res = (i: number, o: number, hw: number): number =>
    conv(3, i, o, hw) + conv(3, o, o, hw) + 2 * tembDim * o + (i !== o ? conv(1, i, o, hw) : 0);
  const attn = (x: number, hw: number): number => 4 * 2 * hw * x * x + 2 * 2 * hw * hw * x;
  const resAt = (level: number): number => Math.ceil(c.sampleSize / 2 ** level);
  const side = (level: number): number => Math.ceil(size / 2 ** level);
  let f = conv(3, c.inChannels, ch[0], size * size) + 2 * (ch[0] * tembDim + tembDim * tembDim);
  let outCh = ch[0];
  for (let i = 0; i < L; i++) {
    const inCh = outCh;
    outCh = ch[i];
    const hw = side(i) ** 2;
    const a = c.attentionResolutions.includes(resAt(i));
    for (let j = 0; j < c.layersPerBlock; j++) f += res(j === 0 ? inCh : outCh, outCh, hw) + (a ? attn(outCh, hw) : 0);
    if (i < L - 1) f += conv(3, outCh, outCh, side(i + 1) ** 2);
  }
  const hwMid = side(L - 1) ** 2;
  f += 2 * res(ch[L - 1], ch[L - 1], hwMid) + (c.midAttention === false ? 0 : attn(ch[L - 1], hwMid));
  const rev = [...ch].reverse();
  outCh = rev[0];
  for (let i = 0; i < L; i++) {
    const prevOut = outCh;
    outCh = rev[i];
    const inCh = rev[Math.min(i + 1, L - 1)];
    const level = L - 1 - i;
    const hw = side(level) ** 2;
    const a = c.attentionResolutions.includes(resAt(level));
    const m = c.layersPerBlock + 1;
    for (let j = 0; j < m; j++) f += res((j === 0 ? prevOut : outCh) + (j === m - 1 ? inCh : outCh), outCh, hw) + (a ? attn(outCh, hw) : 0);
    if (i < L - 1) f += conv(3, outCh, outCh, side(level - 1) ** 2);
  }
  f += conv(3, ch[0], c.outChannels, size * size);
  return f;
}
