import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  UNet,
  UNET_PRESETS,
  conv2d,
  groupNorm,
  upsampleConv3x3,
  upsampleNearest2x,
  inferArch,
  inferUNetConfig,
  timestepEmbedding,
  torchShape,
  unetConfigFromDiffusers,
  unetParameterCount,
  type RawTensor,
  type UNetConfig,
} from '../src';
import { ConfigValidationError } from '@dbp-bench/framework';

describe('UNet', () => {
  it('the ddpm-cifar10 preset has the 35,746,307 parameters of google/ddpm-cifar10-32 (35.7M)', () => {
    expect(unetParameterCount(UNET_PRESETS['ddpm-cifar10'])).to.equal(35_746_307);
    const u = new UNet(UNET_PRESETS['ddpm-cifar10']);
    try {
      expect(u.parameterCount()).to.equal(35_746_307);
      const names = [...u.namedWeights().keys()];
      expect(names.length).to.equal(328);
      for (const n of [
        'conv_in.weight',
        'time_embedding.linear_1.weight',
        'time_embedding.linear_2.bias',
        'down_blocks.0.resnets.0.norm1.weight',
        'down_blocks.0.resnets.1.time_emb_proj.weight',
        'down_blocks.1.resnets.0.conv_shortcut.weight',
        'down_blocks.1.attentions.1.to_out.0.weight',
        'down_blocks.1.attentions.0.group_norm.bias',
        'down_blocks.2.downsamplers.0.conv.weight',
        'mid_block.resnets.1.conv2.bias',
        'mid_block.attentions.0.to_q.weight',
        'up_blocks.2.attentions.2.to_v.bias',
        'up_blocks.0.upsamplers.0.conv.weight',
        'up_blocks.3.resnets.2.conv_shortcut.weight',
        'conv_norm_out.weight',
        'conv_out.bias',
      ]) {
        expect(names, n).to.include(n);
      }
      expect(names.some((n) => n.startsWith('down_blocks.0.attentions'))).to.equal(false);
      expect(names.some((n) => n.startsWith('up_blocks.1.attentions'))).to.equal(false);
      expect(names.some((n) => n.startsWith('down_blocks.3.downsamplers'))).to.equal(false);
      expect(names.some((n) => n.startsWith('up_blocks.3.upsamplers'))).to.equal(false);
      // torch shapes after conversion, spot checks (tfjs layout HWIO / [in,out])
      expect(u.namedWeights().get('up_blocks.3.resnets.2.conv1.weight')!.shape).to.deep.equal([3, 3, 256, 128]);
      expect(u.namedWeights().get('time_embedding.linear_1.weight')!.shape).to.deep.equal([128, 512]);
      // google/ddpm-cifar10-32's config.json + its tensor names give back exactly this configuration
      const google = {
        _class_name: 'UNet2DModel',
        act_fn: 'silu',
        attention_head_dim: null,
        block_out_channels: [128, 256, 256, 256],
        center_input_sample: false,
        down_block_types: ['DownBlock2D', 'AttnDownBlock2D', 'DownBlock2D', 'DownBlock2D'],
        downsample_padding: 0,
        flip_sin_to_cos: false,
        freq_shift: 1,
        in_channels: 3,
        layers_per_block: 2,
        mid_block_scale_factor: 1,
        norm_eps: 1e-6,
        norm_num_groups: 32,
        out_channels: 3,
        sample_size: 32,
        time_embedding_type: 'positional',
        up_block_types: ['UpBlock2D', 'AttnUpBlock2D', 'UpBlock2D', 'UpBlock2D'],
      };
      const shapes = new Map<string, RawTensor>(
        [...u.namedWeights().keys()].map((k) => [k, { dtype: 'F32', shape: [], data: new Float32Array(0) }]),
      );
      for (const [k, v] of u.namedWeights())
        shapes.get(k)!.shape = torchShape(v.shape, v.rank === 4 ? 'conv' : v.rank === 2 ? 'linear' : 'plain');
      expect(inferArch(shapes)).to.equal('unet');
      const inferred = inferUNetConfig(shapes, UNET_PRESETS.tiny, unetConfigFromDiffusers(google));
      expect(unetParameterCount(inferred)).to.equal(35_746_307);
      // dropout is a training setting the weights and config.json do not record: it stays the base's
      for (const [k, v] of Object.entries(UNET_PRESETS['ddpm-cifar10']))
        if (k !== 'dropout') expect(inferred[k as keyof UNetConfig], k).to.deep.equal(v);
      expect(inferred).to.include({ freqShift: 1, flipSinToCos: false, downsamplePadding: 0, midAttention: true });
    } finally {
      u.dispose();
    }
  });

  it('parameterCount() equals the allocation-free count for every preset', () => {
    for (const p of ['tiny', 'mnist'] as const) {
      const u = new UNet(UNET_PRESETS[p]);
      expect(u.parameterCount(), p).to.equal(unetParameterCount(UNET_PRESETS[p]));
      u.dispose();
    }
    expect(unetParameterCount(UNET_PRESETS.small)).to.equal(6_472_195);
  });

  it('predicts eps of the input shape; same seed gives the same weights; no tensor leak', () => {
    const c = UNET_PRESETS.tiny;
    const a = new UNet(c, 3);
    const b = new UNet(c, 3);
    const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const t = tf.tensor1d([0, 999]);
    try {
      const ya = a.predictEps(x, t);
      const yb = b.predictEps(x, t);
      expect(ya.shape).to.deep.equal([2, 16, 16, 3]);
      expect(Array.from(ya.dataSync())).to.deep.equal(Array.from(yb.dataSync()));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) a.predictEps(x, t).dispose();
      expect(tf.memory().numTensors).to.equal(before);
      ya.dispose();
      yb.dispose();
    } finally {
      a.dispose();
      b.dispose();
      x.dispose();
      t.dispose();
    }
  });

  it('dropout acts only in training mode', () => {
    const u = new UNet({ ...UNET_PRESETS.tiny, dropout: 0.5 }, 1);
    const x = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
    const t = tf.tensor1d([100]);
    const run = (): Float32Array => tf.tidy(() => u.predictEps(x, t).dataSync() as Float32Array);
    const e1 = run();
    const e2 = run();
    expect(Array.from(e1)).to.deep.equal(Array.from(e2));
    u.setTraining(true);
    const r1 = run();
    expect(Array.from(r1)).to.not.deep.equal(Array.from(e1));
    u.setTraining(false);
    expect(Array.from(run())).to.deep.equal(Array.from(e1));
    u.dispose();
    tf.dispose([x, t]);
  });

  it('the input gradient is finite and non-zero', () => {
    const u = new UNet(UNET_PRESETS.tiny, 5);
    const x = tf.randomUniform([2, 16, 16, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
    const t = tf.tensor1d([10, 20]);
    const before = tf.memory().numTensors;
    const g = tf.grad((xx) => tf.sum(tf.square(u.predictEps(xx as tf.Tensor4D, t))))(x);
    const v = g.dataSync();
    expect(g.shape).to.deep.equal(x.shape);
    expect(v.every((e) => Number.isFinite(e))).to.equal(true);
    expect(v.some((e) => e !== 0)).to.equal(true);
    g.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    u.dispose();
    tf.dispose([x, t]);
  });

  it('timestep embedding follows diffusers get_timestep_embedding (flip false, shift 1)', () => {
    const e = timestepEmbedding(tf.tensor1d([0, 7]), 8, false, 1);
    const v = e.arraySync();
    for (let i = 0; i < 4; i++) {
      const f = Math.exp((-Math.log(10000) * i) / 3);
      expect(v[1][i]).to.be.closeTo(Math.sin(7 * f), 1e-5);
      expect(v[1][4 + i]).to.be.closeTo(Math.cos(7 * f), 1e-5);
      expect(v[0][i]).to.equal(0);
    }
    const flipped = timestepEmbedding(tf.tensor1d([7]), 8, true, 0).arraySync();
    expect(flipped[0][0]).to.be.closeTo(Math.cos(7), 1e-6);
    expect(flipped[0][4]).to.be.closeTo(Math.sin(7), 1e-6);
  });

  it('group norm equals the definition (biased variance per group of channels)', () => {
    const n = 2,
      h = 3,
      w = 4,
      c = 6,
      g = 3;
    const x = tf.randomNormal([n, h, w, c], 1.5, 2, 'float32', 7) as tf.Tensor4D;
    const gamma = tf.variable(tf.linspace(0.5, 1.5, c));
    const beta = tf.variable(tf.linspace(-1, 1, c));
    const y = groupNorm(x, { gamma, beta, groups: g, eps: 1e-5 }).dataSync();
    const xv = x.dataSync();
    const gv = gamma.dataSync();
    const bv = beta.dataSync();
    const cg = c / g;
    for (let b = 0; b < n; b++)
      for (let gi = 0; gi < g; gi++) {
        const idx: number[] = [];
        for (let p = 0; p < h * w; p++) for (let k = 0; k < cg; k++) idx.push(b * h * w * c + p * c + gi * cg + k);
        const mu = idx.reduce((s, i) => s + xv[i], 0) / idx.length;
        const va = idx.reduce((s, i) => s + (xv[i] - mu) ** 2, 0) / idx.length;
        for (const i of idx) {
          const ch = i % c;
          expect(y[i]).to.be.closeTo(((xv[i] - mu) / Math.sqrt(va + 1e-5)) * gv[ch] + bv[ch], 1e-4);
        }
      }
    tf.dispose([x, gamma, beta]);
  });

  it('group norm: the written-out gradient (x, gamma, beta) equals autodiff of the definition', () => {
    // The definition in plain ops, differentiated by tfjs: the reference for the custom gradient.
    const reference = (x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, g: number, eps: number): tf.Tensor => {
      const [n, h, w, c] = x.shape;
      const xg = tf.reshape(x, [n, h * w, g, c / g]);
      const mu = tf.mean(xg, [1, 3], true);
      const va = tf.mean(tf.square(tf.sub(xg, mu)), [1, 3], true);
      const xhat = tf.reshape(tf.div(tf.sub(xg, mu), tf.sqrt(tf.add(va, eps))), [n, h, w, c]);
      return tf.add(tf.mul(xhat, gamma), beta);
    };
    for (const [c, g] of [
      [6, 3],
      [4, 4],
      [8, 1],
    ] as const) {
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([2, 3, 5, c], 0.7, 1.3, 'float32', 11) as tf.Tensor4D;
      const gamma = tf.tidy(() => tf.variable(tf.linspace(0.5, 1.5, c)));
      const beta = tf.tidy(() => tf.variable(tf.linspace(-1, 1, c)));
      const r = tf.randomNormal([2, 3, 5, c], 0, 1, 'float32', 12);
      const loss = (y: tf.Tensor) => tf.sum(tf.mul(y, r)) as tf.Scalar;
      const got = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
        loss(groupNorm(a as tf.Tensor4D, { gamma: b as tf.Variable, beta: d as tf.Variable, groups: g, eps: 1e-5 })),
      )([x, gamma, beta]);
      const want = tf.grads((a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) => loss(reference(a as tf.Tensor4D, b, d, g, 1e-5)))([
        x,
        gamma,
        beta,
      ]);
      ['dx', 'dgamma', 'dbeta'].forEach((name, i) => {
        const gv = got[i].dataSync();
        const wv = want[i].dataSync();
        const scale = Math.max(...Array.from(wv, Math.abs));
        const err = Math.max(...Array.from(gv, (v, j) => Math.abs(v - wv[j])));
        expect(err / scale, `${name} (C ${c}, ${g} groups): max error ${err} at scale ${scale}`).to.be.below(1e-5);
      });
      tf.dispose([x, gamma, beta, r, ...got, ...want]);
      expect(tf.memory().numTensors, 'no tensor leak').to.equal(before);
    }
  });

  it('upsampleConv3x3 equals conv3x3 of the nearest 2x upsampling (values and gradients of x, w, b)', () => {
    for (const [n, h, w, ci, co] of [
      [2, 4, 5, 3, 6],
      [1, 1, 1, 2, 2],
      [2, 8, 8, 16, 8],
    ]) {
      const before = tf.memory().numTensors;
      const x = tf.randomNormal([n, h, w, ci], 0, 1, 'float32', 21) as tf.Tensor4D;
      const wt = tf.randomNormal([3, 3, ci, co], 0, 0.3, 'float32', 22) as tf.Tensor4D;
      const b = tf.randomNormal([co], 0, 1, 'float32', 23);
      const r = tf.randomNormal([n, 2 * h, 2 * w, co], 0, 1, 'float32', 24);
      const direct = (a: tf.Tensor, f: tf.Tensor, c: tf.Tensor) =>
        conv2d(upsampleNearest2x(a as tf.Tensor4D), { w: f as tf.Variable, b: c as tf.Variable }, 1, 1);
      const fast = (a: tf.Tensor, f: tf.Tensor, c: tf.Tensor) =>
        upsampleConv3x3(a as tf.Tensor4D, { w: f as tf.Variable, b: c as tf.Variable });
      const run = (f: typeof direct): tf.Tensor[] =>
        tf.tidy(() => [f(x, wt, b), ...tf.grads((a: tf.Tensor, g: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, g, c), r)))([x, wt, b])]);
      const want = run(direct);
      const got = run(fast);
      ['y', 'dx', 'dw', 'db'].forEach((name, i) => {
        expect(got[i].shape, name).to.deep.equal(want[i].shape);
        const gv = got[i].dataSync();
        const wv = want[i].dataSync();
        const scale = Math.max(...Array.from(wv, Math.abs));
        const err = Math.max(...Array.from(gv, (v, j) => Math.abs(v - wv[j])));
        expect(err / scale, `${name} of [${n},${h},${w},${ci}] -> ${co}: max error ${err} at scale ${scale}`).to.be.below(1e-5);
      });
      tf.dispose([x, wt, b, r, ...want, ...got]);
      expect(tf.memory().numTensors, 'no tensor leak').to.equal(before);
    }
  });

  it('rejects invalid configs and inputs with ConfigValidationError', () => {
    const bad: UNetConfig = { ...UNET_PRESETS.tiny, blockOutChannels: [12, 32] };
    expect(() => new UNet(bad)).to.throw(ConfigValidationError, /blockOutChannels\[0\]: 12 is not divisible by normGroups 8/);
    expect(() => new UNet({ ...UNET_PRESETS.tiny, sampleSize: 15 })).to.throw(ConfigValidationError, /sampleSize/);
    const u = new UNet(UNET_PRESETS.tiny);
    const x = tf.zeros([1, 16, 16, 1]) as tf.Tensor4D;
    expect(() => u.predictEps(x, tf.tensor1d([1]))).to.throw(ConfigValidationError, /3 channels/);
    u.dispose();
    x.dispose();
  });
});
