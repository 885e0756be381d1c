/**
 * The UNet paths the MNIST demo model and the DDPM CIFAR-10 preset do not exercise, against PyTorch:
 * attention inside down and up blocks at two resolutions, several heads, non-square feature maps (an
 * odd width at the lowest level). The fixture (weights, input, output and the input gradient of a
 * fixed scalar loss) is made by scripts/make_unet_attention_fixture.py from an independent torch.nn
 * implementation of the diffusers UNet2DModel layout; the weights go through the project's converter.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { maxRelativeError as relErr } from '@dbp-bench/framework';
import { UNet, convertWeights, type UNetConfig } from '../src';

const FIX = path.resolve(__dirname, '../../test/fixtures/torch');

interface AttnFixture {
  torch: string;
  command: string;
  config: UNetConfig;
  inputShape: [number, number, number, number];
  input: number[];
  t: number[];
  lossWeight: number[];
  loss: number;
  output: number[];
  inputGrad: number[];
  parameters: number;
}

const fx = JSON.parse(fs.readFileSync(path.join(FIX, 'unet_attn.json'), 'utf8')) as AttnFixture;

/** eps, the loss and d loss / dx of the fixture's scalar loss L = sum(eps * W). */
function evaluate(model: UNet): { eps: Float32Array; loss: number; grad: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(fx.input, fx.inputShape);
    const t = tf.tensor1d(fx.t);
    const w = tf.tensor4d(fx.lossWeight, fx.inputShape);
    const f = (xx: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(model.predictEps(xx, t), w));
    const { value, grad } = tf.valueAndGrad(f)(x);
    return { eps: model.predictEps(x, t).dataSync() as Float32Array, loss: value.dataSync()[0], grad: grad.dataSync() as Float32Array };
  });
}

// Config fields the checkpoint's tensor names cannot tell (as a user passes them to `weights convert --config`).
const EXTRA = { sampleSize: 8, normGroups: 2, normEps: 1e-6, dropout: 0, attentionHeadDim: 4 };

describe(`UNet attention paths vs PyTorch (fixture from torch ${fx.torch})`, () => {
  let model: UNet;
  before(() => {
    const r = convertWeights(path.join(FIX, 'unet_attn.zip.pt'), { arch: 'unet', config: EXTRA });
    model = r.model as UNet;
  });
  after(() => model?.dispose());

  it("the converter infers attention at both resolutions and the middle block; the config is the fixture's", () => {
    const c = model.config;
    expect(c.attentionResolutions).to.deep.equal([8, 4]);
    expect(c.midAttention).to.equal(true);
    for (const k of Object.keys(fx.config) as (keyof UNetConfig)[]) expect(c[k], k).to.deep.equal(fx.config[k]);
    expect(model.parameterCount()).to.equal(fx.parameters);
  });

  it('eps and the input gradient of sum(eps * W) match PyTorch within float32 rounding (relative 1e-5)', () => {
    const before = tf.memory().numTensors;
    const r = evaluate(model);
    const eOut = relErr(r.eps, fx.output);
    const eGrad = relErr(r.grad, fx.inputGrad);
    expect(eOut, 'eps: max |tfjs - torch| / max |torch|').to.be.lessThan(1e-5);
    expect(eGrad, 'd loss/dx: max |tfjs - torch| / max |torch|').to.be.lessThan(1e-5);
    expect(Math.abs(r.loss - fx.loss) / Math.abs(fx.loss), 'loss').to.be.lessThan(1e-5);
    // the outputs have scale, so a relative error is meaningful
    expect(Math.max(...fx.output.map(Math.abs))).to.be.greaterThan(0.1);
    expect(Math.max(...fx.inputGrad.map(Math.abs))).to.be.greaterThan(0.01);
    evaluate(model);
    expect(tf.memory().numTensors, 'tensors leaked').to.equal(before);
  });

  it('is sensitive to the head split: one head per attention layer disagrees with PyTorch', () => {
    const r = convertWeights(path.join(FIX, 'unet_attn.zip.pt'), { arch: 'unet', config: { ...EXTRA, attentionHeadDim: undefined } });
    try {
      const e = evaluate(r.model as UNet);
      expect(relErr(e.eps, fx.output)).to.be.greaterThan(1e-3);
    } finally {
      r.model.dispose();
    }
  });
});
