// Schedulers against the cheap correctness checks of ALGORITHMS.md §13 (items 1-9).
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';
import { alphasCumprod, DDIMScheduler, DDPMScheduler, leadingTimesteps, linearBetas, pyRound, strengthStartIndex, VPSDE } from '../src';

const close = (a: number, b: number, tol: number, what = ''): void => {
  expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).to.be.at.most(tol);
};

function randn(shape: [number, number, number, number], seed: number): tf.Tensor4D {
  return tf.randomNormal(shape, 0, 1, 'float32', seed) as tf.Tensor4D;
}

describe('noise schedules (§13 items 1-4)', () => {
  it('linear betas: beta_0, beta_999, beta_100 (item 1)', () => {
    const b = linearBetas();
    expect(b.length).to.equal(1000);
    close(b[0], 1e-4, 1e-12, 'beta_0');
    close(b[999], 0.02, 1e-12, 'beta_999');
    close(b[100], 0.002091992, 1e-9, 'beta_100');
  });

  it('alpha-bar in float64 to 1e-8 and float32 (torch) to 1e-6 (item 2)', () => {
    const a = alphasCumprod(linearBetas());
    const expected: Record<number, number> = {
      0: 0.9999,
      9: 0.998105205,
      49: 0.97101572,
      99: 0.89701815,
      100: 0.89514159,
      199: 0.65903851,
      299: 0.39641976,
      499: 0.07858724,
      999: 4.03583e-5,
    };
    for (const [t, v] of Object.entries(expected)) close(a[Number(t)], v, 1e-8, `abar_${t}`);
    const a32 = alphasCumprod(linearBetas(1000, 1e-4, 0.02, 'float32'), 'float32');
    for (let t = 0; t < 1000; t++) close(a32[t], a[t], 1e-6, `f32 abar_${t}`);
    close(a32[99], 0.89701796, 5e-9, 'f32 abar_99');
    expect(a32[99]).to.not.equal(a[99]);
  });

  it('VP-SDE: continuous abar, discrete betas equal the DDPM betas (item 3)', () => {
    const vp = new VPSDE();
    close(vp.alphaBar(0.1), 0.89628216, 1e-8, 'abar(0.1)');
    close(vp.alphaBar(0.101), 0.89440199, 1e-8, 'abar(0.101)');
    close(vp.alphaBar(0.075), 0.938503, 1e-6, 'abar(0.075)');
    close(vp.alphaBar(0.15), 0.787513, 1e-6, 'abar(0.15)');
    close(vp.alphaBar(1), 4.319e-5, 1e-8, 'abar(1)');
    const ddpm = alphasCumprod(linearBetas());
    expect(Math.abs(vp.alphaBar(0.1) - ddpm[99])).to.be.below(1e-3);
    expect(Array.from(vp.discreteBetas(1000))).to.deep.equal(Array.from(linearBetas()));
    close(vp.marginalStd(0.1), Math.sqrt(1 - 0.896282164362109), 1e-12, 's(0.1)');
    close(vp.beta(0.5), 10.05, 1e-12, 'beta(0.5)');
  });

  it('t* mapping: DiffPure --t 100 uses a[99], ADDT strength 0.1 uses index 100 (item 4)', () => {
    const g = new VPSDE().diffpureOriginalSteps(0.1);
    expect(g.tIndex).to.equal(99);
    close(g.forwardAlphaBar, 0.89701815, 1e-8, 'a[99]');
    const s = new DDPMScheduler().setTimesteps(1000);
    const tl = s.purificationTimesteps(0.1);
    expect(tl[0]).to.equal(100);
    close(s.alphasCumprod[tl[0]], 0.89514159, 1e-8, 'abar_100');
    const l2 = new VPSDE().diffpureOriginalSteps(0.075);
    expect(l2.tIndex).to.equal(74);
    close(l2.forwardAlphaBar, 0.939121, 1e-6, 'abar_74');
  });
});

describe('timestep lists (§13 items 5-6)', () => {
  it('leading spacing and the ADDT strength rule for N = 1000/500/200/100/50', () => {
    expect(Array.from(leadingTimesteps(1000, 10))).to.deep.equal([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    const cases: [number, number, number[]][] = [
      [1000, 101, Array.from({ length: 101 }, (_, i) => 100 - i)],
      [500, 51, Array.from({ length: 51 }, (_, i) => 100 - 2 * i)],
      [200, 21, Array.from({ length: 21 }, (_, i) => 100 - 5 * i)],
      [100, 11, [100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0]],
      [50, 6, [100, 80, 60, 40, 20, 0]],
    ];
    for (const [n, len, list] of cases) {
      for (const sched of [new DDPMScheduler(), new DDIMScheduler()]) {
        const tl = sched.setTimesteps(n).purificationTimesteps(0.1);
        expect(tl.length, `N=${n}`).to.equal(len);
        expect(Array.from(tl), `N=${n}`).to.deep.equal(list);
      }
    }
  });

  it('Python round (half to even) and the empty-list guard', () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(pyRound)).to.deep.equal([0, 2, 2, 4, 2, 3]);
    expect(strengthStartIndex(0.1, 1000)).to.equal(899);
    expect(() => strengthStartIndex(1, 10)).to.throw(DbpError, /< 0/);
    expect(() => strengthStartIndex(0, 10)).to.throw(DbpError, /\(0, 1\]/);
    expect(() => new DDPMScheduler().setTimesteps(0)).to.throw(DbpError, /numInferenceSteps/);
    expect(() => new DDPMScheduler().setTimesteps(1001)).to.throw(DbpError, /numInferenceSteps/);
  });

  it('VP (ADDT): 101 times 0.101 .. 0.001 with dt = -1e-3', () => {
    const steps = new VPSDE().addtSteps(0.1, 1000);
    expect(steps.length).to.equal(101);
    steps.forEach((s, i) => {
      close(s.t, 0.101 - 0.001 * i, 1e-12, `t_${i}`);
      close(s.h, 1e-3, 1e-15, `h_${i}`);
    });
  });

  it('DiffPure-original: torchsde Euler dt = 1e-3 over [0.9, 1 - 1e-5] takes 100 steps, the last 0.00099', () => {
    const { steps } = new VPSDE().diffpureOriginalSteps(0.1, 1e-3);
    expect(steps.length).to.equal(100);
    close(steps[0].t, 0.1, 1e-12, 'first drift time');
    close(steps[99].h, 0.00099, 1e-12, 'last step');
    close(
      steps.reduce((a, s) => a + s.h, 0),
      0.1 - 1e-5,
      1e-12,
      'total time',
    );
  });
});

describe('DDPM / DDIM steps (§13 items 7-9)', () => {
  it("DDPM step coefficients at t = 100 (N = 1000) and beta' at N = 100 (item 7)", () => {
    const large = new DDPMScheduler({ varianceType: 'fixed_large' }).setTimesteps(1000).stepCoefficients(100);
    close(large.coefX0, 0.018895456, 1e-9, 'coef x0');
    close(large.coefXt, 0.981076103, 1e-9, 'coef xt');
    close(large.variance, 0.002091992, 1e-9, 'fixed_large');
    expect(large.prevT).to.equal(99);
    const small = new DDPMScheduler({ varianceType: 'fixed_small' }).setTimesteps(1000).stepCoefficients(100);
    close(small.variance, 0.002054554, 1e-9, 'fixed_small');
    const n100 = new DDPMScheduler().setTimesteps(100).stepCoefficients(100);
    expect(n100.prevT).to.equal(90);
    close(n100.currentBeta, 0.019844076, 1e-9, "beta'");
    close(n100.variance, 0.019844076, 1e-9, 'fixed_large at N=100');
  });

  it('DDPM step tensor update matches the formula', () => {
    const s = new DDPMScheduler().setTimesteps(1000);
    const x = randn([2, 4, 4, 3], 1);
    const e = randn([2, 4, 4, 3], 2);
    const z = randn([2, 4, 4, 3], 3);
    const out = s.step(e, 100, x, z);
    const [xv, ev, zv, pv, x0v] = [x, e, z, out.prevSample, out.predOriginalSample].map((t) => t.dataSync());
    const a = s.alphasCumprod[100];
    const k = s.stepCoefficients(100);
    for (let i = 0; i < xv.length; i++) {
      const x0 = Math.min(1, Math.max(-1, (xv[i] - Math.sqrt(1 - a) * ev[i]) / Math.sqrt(a)));
      close(x0v[i], x0, 1e-5, 'x0');
      close(pv[i], k.coefX0 * x0 + k.coefXt * xv[i] + Math.sqrt(k.variance) * zv[i], 1e-5, 'prev');
    }
    expect(() => s.step(e, 100, x)).to.throw(DbpError, /no noise tensor/);
    tf.dispose([x, e, z, out.prevSample, out.predOriginalSample]);
  });

  it('DDPM / DDIM last step (t = 0): output == clamp(x0_hat, -1, 1) exactly, no noise (item 8)', () => {
    // Large inputs so that clipping is active on part of the tensor.
    const x = tf.mul(randn([2, 5, 5, 3], 4), 2) as tf.Tensor4D;
    const e = randn([2, 5, 5, 3], 5);
    for (const n of [1000, 100]) {
      for (const vt of ['fixed_large', 'fixed_small'] as const) {
        const d = new DDPMScheduler({ varianceType: vt }).setTimesteps(n);
        expect(d.stepCoefficients(0).variance).to.equal(0);
        const o = d.step(e, 0, x); // no noise needed at t = 0
        expect(Array.from(o.prevSample.dataSync())).to.deep.equal(Array.from(o.predOriginalSample.dataSync()));
        const ref = tf.tidy(() =>
          tf.clipByValue(tf.div(tf.sub(x, tf.mul(e, Math.sqrt(1 - d.alphasCumprod[0]))), Math.sqrt(d.alphasCumprod[0])), -1, 1),
        );
        expect(Array.from(o.prevSample.dataSync())).to.deep.equal(Array.from(ref.dataSync()));
        const mx = o.prevSample.max().dataSync()[0];
        expect(mx).to.equal(1); // clipping happened
        tf.dispose([o.prevSample, o.predOriginalSample, ref]);
      }
      const di = new DDIMScheduler().setTimesteps(n);
      const o = di.step(e, 0, x);
      expect(Array.from(o.prevSample.dataSync())).to.deep.equal(Array.from(o.predOriginalSample.dataSync()));
      tf.dispose([o.prevSample, o.predOriginalSample]);
    }
    tf.dispose([x, e]);
  });

  it('DDIM eta = 0 is deterministic given x_t, eta > 0 needs noise (item 9)', () => {
    const s = new DDIMScheduler().setTimesteps(100);
    const x = randn([2, 4, 4, 3], 6);
    const e = randn([2, 4, 4, 3], 7);
    const a = s.step(e, 100, x);
    const b = s.step(e, 100, x);
    expect(Array.from(a.prevSample.dataSync())).to.deep.equal(Array.from(b.prevSample.dataSync()));
    // formula: sqrt(abar_90) x0 + sqrt(1 - abar_90) eps
    const k = s.stepCoefficients(100);
    expect(k.prevT).to.equal(90);
    close(k.alphaProdPrev, s.alphasCumprod[90], 0, 'abar_prev');
    close(k.coefEps, Math.sqrt(1 - s.alphasCumprod[90]), 1e-15, 'coef eps');
    expect(s.stepCoefficients(100, 1).stdDev).to.be.above(0);
    expect(() => s.step(e, 100, x, 1)).to.throw(DbpError, /no noise tensor/);
    const noSetAlpha = new DDIMScheduler({ setAlphaToOne: false }).setTimesteps(100);
    expect(noSetAlpha.stepCoefficients(0).alphaProdPrev).to.equal(noSetAlpha.alphasCumprod[0]);
    tf.dispose([x, e, a.prevSample, a.predOriginalSample, b.prevSample, b.predOriginalSample]);
  });

  it('addNoise: closed form, scalar or per-row timesteps', () => {
    const s = new DDPMScheduler();
    const x = randn([2, 3, 3, 1], 8);
    const n = randn([2, 3, 3, 1], 9);
    const one = s.addNoise(x, n, 100);
    const rows = s.addNoise(x, n, [100, 500]);
    const [xv, nv, ov, rv] = [x, n, one, rows].map((t) => t.dataSync());
    const per = 9;
    for (let i = 0; i < xv.length; i++) {
      const t = i < per ? 100 : 500;
      close(ov[i], Math.sqrt(s.alphasCumprod[100]) * xv[i] + Math.sqrt(1 - s.alphasCumprod[100]) * nv[i], 1e-6, 'scalar t');
      close(rv[i], Math.sqrt(s.alphasCumprod[t]) * xv[i] + Math.sqrt(1 - s.alphasCumprod[t]) * nv[i], 1e-6, 'per-row t');
    }
    expect(() => s.addNoise(x, n, [1, 2, 3])).to.throw(DbpError, /3 timesteps for a batch of 2/);
    tf.dispose([x, n, one, rows]);
  });

  it('VP predictor and corrector updates match the formulas', () => {
    const vp = new VPSDE();
    const x = randn([2, 3, 3, 3], 10);
    const e = randn([2, 3, 3, 3], 11);
    const z = randn([2, 3, 3, 3], 12);
    const step = { t: 0.05, h: 1e-3 };
    const { sample, mean } = vp.predictorStep(e, step, x, z);
    const c = vp.correctorStep(e, 0.05, x, z, 0.16, 1000);
    const [xv, ev, zv, sv, mv, cv] = [x, e, z, sample, mean, c].map((t) => t.dataSync());
    const b = vp.beta(0.05);
    const std = vp.marginalStd(0.05);
    const per = 27;
    const alpha = 1 - linearBetas()[Math.floor(999 * 0.05)];
    for (let r = 0; r < 2; r++) {
      let gn = 0;
      let nn = 0;
      for (let i = r * per; i < (r + 1) * per; i++) {
        gn += (ev[i] / std) ** 2;
        nn += zv[i] ** 2;
      }
      const stepSize = 2 * alpha * ((0.16 * Math.sqrt(nn)) / Math.sqrt(gn)) ** 2;
      for (let i = r * per; i < (r + 1) * per; i++) {
        const score = -ev[i] / std;
        const m = xv[i] + (-0.5 * b * xv[i] - b * score) * -step.h;
        close(mv[i], m, 1e-5, 'mean');
        close(sv[i], m + Math.sqrt(b * step.h) * zv[i], 1e-5, 'sample');
        close(cv[i], xv[i] + stepSize * score + Math.sqrt(2 * stepSize) * zv[i], 1e-4, 'corrector');
      }
    }
    tf.dispose([x, e, z, sample, mean, c]);
  });

  it('config is frozen', () => {
    const s = new DDPMScheduler();
    expect(Object.isFrozen(s.config)).to.equal(true);
    expect(() => new DDPMScheduler({ varianceType: 'learned' as never })).to.throw(DbpError, /varianceType/);
  });
});
