// Lee & Kim surrogate gradients (ALGORITHMS.md §14.3): the shorter-step twin of a diffusion defense,
// gradient mode `surrogate` of the attack target, and Lee & Kim's step lists and update.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  createTarget,
  eotRows,
  IncompatiblePluginError,
  KeyedNoiseSource,
  purifyWithGradient,
  type Defense,
  type EpsModel,
  type NoiseSource,
} from '@dbp-bench/framework';
import { UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DDIMScheduler, DiffPure, DpDdim, DpDdpm, IdentityDefense, leeKimTimesteps, leeKimUpdate } from '../src';

const rows = eotRows([3, 7]);
const keyed = (): NoiseSource => new KeyedNoiseSource(5, rows);

function images(): tf.Tensor4D {
  return tf.randomUniform([2, 16, 16, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
}

/** d/dx sum(w * purify(x)) with a gradient mode. */
function grad(defense: Defense, x: tf.Tensor4D, w: tf.Tensor, mode: 'exact' | 'surrogate'): Float32Array {
  return tf.tidy(
    () =>
      tf
        .grad((xx: tf.Tensor) => tf.sum(tf.mul(purifyWithGradient(defense, xx as tf.Tensor4D, keyed(), mode), w)))(x)
        .dataSync() as Float32Array,
  );
}

/** A cheap nonlinear eps-model (eps = tanh(1.3 x + t / 1000)), for the tests that only count or compare. */
class TanhEps implements EpsModel {
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    return tf.tidy(() => tf.tanh(tf.add(tf.mul(x, 1.3), tf.reshape(tf.div(t, 1000), [-1, 1, 1, 1]))) as tf.Tensor4D);
  }
}

/** Counts network calls. */
class CountingEps implements EpsModel {
  calls = 0;
  constructor(private readonly inner: EpsModel) {}
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    this.calls++;
    return this.inner.predictEps(x, t);
  }
}

describe('surrogate gradients (Lee & Kim, §14.3)', function () {
  this.timeout(120000);
  let unet: UNet;
  before(() => {
    unet = new UNet(UNET_PRESETS.tiny, 11);
  });
  after(() => unet.dispose());

  it("Lee & Kim's step lists: (200, 5), (30, 1), (125, 5)", () => {
    expect(leeKimTimesteps(200, 5)).to.deep.equal([39, 79, 119, 159, 199]);
    expect(leeKimTimesteps(30, 1)).to.deep.equal([29]);
    expect(leeKimTimesteps(125, 5)).to.deep.equal([24, 49, 74, 99, 124]);
    expect(() => leeKimTimesteps(5, 6)).to.throw(/1 <= n <= T/);
  });

  it('eta 0 reduces the update to the DDIM step of §3.4 (without x0 clipping)', () => {
    const s = new DDIMScheduler({ clipSample: false }).setTimesteps(100);
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1.5, 'float32', 1) as tf.Tensor4D;
    const eps = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (const t of [100, 50, 10]) {
      const k = s.stepCoefficients(t, 0);
      const ref = s.step(eps, t, x, 0);
      const out = leeKimUpdate(x, eps, k.alphaProdT, k.alphaProdPrev, 0);
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(out, ref.prevSample))).dataSync()[0]);
      // the same formula with the coefficients in another order: float32 rounding only
      expect(d, `t = ${t}`).to.be.below(1e-5);
      // and eta 1 differs (it adds c1 z and shrinks the eps coefficient)
      const z = tf.onesLike(x);
      const noisy = leeKimUpdate(x, eps, k.alphaProdT, k.alphaProdPrev, 1, z);
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(noisy, out))).dataSync()[0])).to.be.above(1e-3);
      tf.dispose([ref.prevSample, ref.predOriginalSample, out, z, noisy]);
    }
    tf.dispose([x, eps]);
  });

  it('surrogate steps = defended steps with the same keyed noise gives the exact gradient bitwise', () => {
    const x = images();
    const w = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 4);
    for (const d of [
      new DpDdpm(unet, { numInferenceSteps: 30, surrogate: { numInferenceSteps: 30 } }),
      new DpDdim(new TanhEps(), { numInferenceSteps: 30, eta: 1, surrogate: { numInferenceSteps: 30 } }),
      new DiffPure(new TanhEps(), { numInferenceSteps: 30, surrogate: { numInferenceSteps: 30 } }),
    ]) {
      const exact = grad(d, x, w, 'exact');
      const sur = grad(d, x, w, 'surrogate');
      expect(
        sur.every((v, i) => Object.is(v, exact[i])),
        d.id,
      ).to.equal(true);
      expect(exact.some((v) => v !== 0)).to.equal(true);
      d.dispose();
    }
    tf.dispose([x, w]);
  });

  it('a shorter surrogate gives another gradient; evaluation outside a tape uses the defended process', () => {
    const x = images();
    const w = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 4);
    const d = new DpDdpm(new TanhEps(), { numInferenceSteps: 50, surrogate: { numInferenceSteps: 20 } });
    const exact = grad(d, x, w, 'exact');
    const sur = grad(d, x, w, 'surrogate');
    expect(sur.some((v, i) => v !== exact[i])).to.equal(true);
    const a = purifyWithGradient(d, x, keyed(), 'surrogate');
    const b = d.purify(x, keyed());
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).to.equal(0);
    expect(d.surrogate()).to.equal(d.surrogate()); // built once
    expect((d.surrogate() as DpDdpm).timesteps.length).to.equal(3);
    tf.dispose([x, w, a, b]);
    d.dispose();
  });

  it('network calls: surrogate N 100 at strength 0.1 -> 11 per EoT draw (defense N 1000: 101)', () => {
    // a cheap stand-in network: only the number of calls matters here
    const counting = new CountingEps({ predictEps: (xx: tf.Tensor4D) => tf.mul(xx, 0.1) as tf.Tensor4D });
    const d = new DpDdpm(counting, {});
    expect(d.capabilities.networkCalls).to.equal(101);
    expect(d.surrogate().capabilities.networkCalls).to.equal(11);
    const one = eotRows([3]);
    const x = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const target = createTarget({ logits: (p: tf.Tensor4D) => tf.reshape(tf.mean(p, [1, 2]), [1, 3]) as tf.Tensor2D } as never, d, {
      gradient: 'surrogate',
    });
    counting.calls = 0;
    // one EoT draw per row; forward 11 calls, backward (per-step recompute) 11 more
    const g = tf.grad((xx: tf.Tensor) => tf.sum(target.logits(xx as tf.Tensor4D, one)))(x);
    expect(counting.calls).to.equal(22);
    counting.calls = 0;
    tf.tidy(() => target.logits(x, one)).dispose(); // evaluation: the defended process
    expect(counting.calls).to.equal(101);
    tf.dispose([g, x]);
    d.dispose();
  });

  it('the target refuses surrogate on a defense without one, naming it', () => {
    const x = images();
    expect(() => purifyWithGradient(new IdentityDefense(), x, keyed(), 'surrogate')).to.throw(
      IncompatiblePluginError,
      /identity.*surrogate/,
    );
    const orig = new DiffPure(unet, { variant: 'diffpure-original' });
    expect(orig.capabilities.gradientModes).to.deep.equal(['exact']);
    expect(() => purifyWithGradient(orig, x, keyed(), 'surrogate')).to.throw(IncompatiblePluginError, /diffpure/);
    x.dispose();
  });

  it('leaks no tensors over repeated surrogate gradients', () => {
    const d = new DpDdpm(new TanhEps(), { numInferenceSteps: 50, surrogate: { numInferenceSteps: 10 } });
    const x = images();
    const w = tf.randomNormal([2, 16, 16, 3], 0, 1, 'float32', 4);
    grad(d, x, w, 'surrogate');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) grad(d, x, w, 'surrogate');
    expect(tf.memory().numTensors).to.equal(before);
    tf.dispose([x, w]);
    d.dispose();
  });
});
