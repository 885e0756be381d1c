// The purification defenses: noise streams, determinism under keyed noise (DW-box), exact gradients
// with per-step recompute vs plain backprop, the target's BPDA on them, memory, and the oracle
// eps-model sanity checks.
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import {
  eotRows,
  FreshNoiseSource,
  IncompatiblePluginError,
  KeyedNoiseSource,
  PolicyNoiseSource,
  ShapeMismatchError,
  purifyWithGradient,
  type Defense,
  type EpsModel,
  type NoiseRow,
  type NoiseSource,
  type NoiseStream,
} from '@dbp-bench/framework';
import { UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DDPMScheduler, DiffPure, DpDdim, DpDdpm, IdentityDefense, VPSDE } from '../src';

const B = 2;
const rows = eotRows([3, 7]);
const keyed = (seed = 1): NoiseSource => new KeyedNoiseSource(seed, rows);
const fresh = (seed = 1): NoiseSource => new FreshNoiseSource(seed, rows);
const mixed = (kinds: string[], seed = 1): NoiseSource =>
  new PolicyNoiseSource(new Set(kinds) as never, seed, rows, new FreshNoiseSource(seed + 100, rows));

/** Records every stream a defense asks for. */
class RecordingSource implements NoiseSource {
  readonly calls: string[] = [];
  constructor(private readonly inner: NoiseSource) {}
  get rows(): readonly NoiseRow[] {
    return this.inner.rows;
  }
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    this.calls.push(`${stream.kind}:${stream.step ?? 0}`);
    return this.inner.normal(stream, shape);
  }
  withRows(r: readonly NoiseRow[]): NoiseSource {
    return new RecordingSource(this.inner.withRows(r));
  }
  describe(): string {
    return 'recording';
  }
}

/** Fresh random draws on every call (like FreshNoiseSource), remembered so they can be replayed. */
class RememberingSource implements NoiseSource {
  readonly drawn = new Map<string, Float32Array>();
  private n = 0;
  constructor(readonly rows: readonly NoiseRow[]) {}
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    const t = tf.randomNormal(shape as number[], 0, 1, 'float32', 1000 + this.n++);
    this.drawn.set(`${stream.kind}:${stream.step ?? 0}`, t.dataSync() as Float32Array);
    return t;
  }
  withRows(): NoiseSource {
    throw new Error('unused');
  }
  describe(): string {
    return 'remembering';
  }
}
class ReplaySource implements NoiseSource {
  constructor(
    readonly rows: readonly NoiseRow[],
    private readonly drawn: Map<string, Float32Array>,
  ) {}
  normal(stream: NoiseStream, shape: readonly number[]): tf.Tensor {
    const d = this.drawn.get(`${stream.kind}:${stream.step ?? 0}`);
    if (!d) throw new Error(`no recorded draw for ${stream.kind}:${stream.step ?? 0}`);
    return tf.tensor(d, shape as number[]);
  }
  withRows(): NoiseSource {
    throw new Error('unused');
  }
  describe(): string {
    return 'replay';
  }
}

/**
 * An eps-model that knows the clean image: eps = (x - sqrt(abar_t) x0) / sqrt(1 - abar_t), so the
 * predicted x0 is exactly `target` at every step. Reads the time input to look up abar.
 */
class OracleEps implements EpsModel {
  constructor(
    private readonly target: tf.Tensor4D,
    private readonly abar: (time: number) => number,
  ) {}
  predictEps(x: tf.Tensor4D, t: tf.Tensor1D): tf.Tensor4D {
    const a = this.abar(t.dataSync()[0]);
    return tf.tidy(() => tf.div(tf.sub(x, tf.mul(this.target, Math.sqrt(a))), Math.sqrt(1 - a)) as tf.Tensor4D);
  }
}

function images(seed = 3): tf.Tensor4D {
  return tf.randomUniform([B, 16, 16, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
}

function same(a: tf.Tensor, b: tf.Tensor): boolean {
  const x = a.dataSync();
  const y = b.dataSync();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** A fixed linear loss of the purified image: sum(w * purify(x)), differentiated with a target gradient mode. */
function lossGrad(
  defense: Defense,
  x: tf.Tensor4D,
  noise: () => NoiseSource,
  w: tf.Tensor,
  gradient: 'exact' | 'bpda' = 'exact',
): tf.Tensor4D {
  return tf.tidy(
    () =>
      tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(purifyWithGradient(defense, xx as tf.Tensor4D, noise(), gradient), w)))(x) as tf.Tensor4D,
  );
}

describe('diffusion defenses', function () {
  this.timeout(120000);
  let unet: UNet;
  before(() => {
    unet = new UNet(UNET_PRESETS.tiny, 11);
  });
  after(() => unet.dispose());

  describe('configuration', () => {
    it('defaults are the ADDT code defaults (101 / 11 / 101 steps)', () => {
      const ddpm = new DpDdpm(unet);
      expect(ddpm.numSteps).to.equal(101);
      expect(ddpm.timesteps[0]).to.equal(100);
      expect(ddpm.capabilities).to.deep.include({ stochastic: true, networkCalls: 101 });
      expect(ddpm.capabilities.streams).to.deep.equal(['forward', 'reverse']);
      expect(ddpm.capabilities.gradientModes).to.deep.equal(['exact', 'surrogate']);
      expect(ddpm.scheduler.config.varianceType).to.equal('fixed_large');
      const ddim = new DpDdim(unet);
      expect(Array.from(ddim.timesteps)).to.deep.equal([100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 0]);
      expect(ddim.capabilities.streams).to.deep.equal(['forward']);
      expect(new DpDdim(unet, { eta: 1 }).capabilities.streams).to.deep.equal(['forward', 'reverse']);
      const vp = new DiffPure(unet);
      expect(vp.numSteps).to.equal(101);
      expect(vp.capabilities.networkCalls).to.equal(101);
      expect(vp.capabilities.streams).to.deep.equal(['forward', 'path']);
      const pc = new DiffPure(unet, { corrector: true });
      expect(pc.capabilities.networkCalls).to.equal(202);
      expect(pc.capabilities.streams).to.deep.equal(['forward', 'path', 'corrector']);
      const orig = new DiffPure(unet, { variant: 'diffpure-original' });
      expect(orig.numSteps).to.equal(100);
      expect(() => new DiffPure(unet, { variant: 'diffpure-original', corrector: true })).to.throw(/corrector/);
      expect(new IdentityDefense().capabilities).to.deep.include({ stochastic: false, networkCalls: 0 });
    });

    it('rejects bad inputs with typed errors', () => {
      const d = new DpDdim(unet, { numInferenceSteps: 10 });
      const x = images();
      expect(() => d.purify(x, new KeyedNoiseSource(0, eotRows([1, 2, 3])))).to.throw(ShapeMismatchError, /3 rows but the batch has 2/);
      const gray = tf.zeros([B, 16, 16, 1]) as tf.Tensor4D;
      expect(() => d.purify(gray, keyed())).to.throw(ShapeMismatchError, /3 channels/);
      // a defense that declares no exact gradient is refused 'exact' by the target (BPDA stays available)
      const d2 = Object.assign(Object.create(DpDdim.prototype), d, { capabilities: { ...d.capabilities, gradientModes: [] } }) as DpDdim;
      expect(() => purifyWithGradient(d2, x, keyed(), 'exact')).to.throw(IncompatiblePluginError, /dp-ddim.*'exact'/);
      purifyWithGradient(d2, x, keyed(), 'bpda').dispose();
      tf.dispose([x, gray]);
    });
  });

  describe('noise streams', () => {
    it('DP_DDPM draws forward once and reverse z_t keyed by the timestep value (none at t = 0)', () => {
      const src = new RecordingSource(keyed());
      const x = images();
      new DpDdpm(unet, { numInferenceSteps: 50 }).purify(x, src).dispose();
      expect(src.calls).to.deep.equal(['forward:0', 'reverse:100', 'reverse:80', 'reverse:60', 'reverse:40', 'reverse:20']);
      x.dispose();
    });

    it('DP_DDIM with eta = 0 draws only the forward noise; eta > 0 adds reverse draws', () => {
      const x = images();
      const a = new RecordingSource(keyed());
      new DpDdim(unet, { numInferenceSteps: 50 }).purify(x, a).dispose();
      expect(a.calls).to.deep.equal(['forward:0']);
      const b = new RecordingSource(keyed());
      new DpDdim(unet, { numInferenceSteps: 50, eta: 1 }).purify(x, b).dispose();
      expect(b.calls).to.deep.equal(['forward:0', 'reverse:100', 'reverse:80', 'reverse:60', 'reverse:40', 'reverse:20']);
      x.dispose();
    });

    it('DiffPure draws Brownian increments per solver step (path) and corrector noise (corrector)', () => {
      const x = images();
      const a = new RecordingSource(keyed());
      new DiffPure(unet, { numInferenceSteps: 40 }).purify(x, a).dispose(); // round(36) - 1 = 35 -> 5 steps
      expect(a.calls).to.deep.equal(['forward:0', 'path:0', 'path:1', 'path:2', 'path:3']);
      const b = new RecordingSource(keyed());
      new DiffPure(unet, { numInferenceSteps: 40, corrector: true }).purify(x, b).dispose();
      expect(b.calls).to.deep.equal([
        'forward:0',
        'corrector:0',
        'path:0',
        'corrector:1',
        'path:1',
        'corrector:2',
        'path:2',
        'corrector:3',
        'path:3',
        'corrector:4',
      ]);
      const c = new RecordingSource(keyed());
      new DiffPure(unet, { variant: 'diffpure-original', strength: 0.004 }).purify(x, c).dispose(); // t = 4 -> 4 steps
      expect(c.calls).to.deep.equal(['forward:0', 'path:0', 'path:1', 'path:2', 'path:3']);
      x.dispose();
    });
  });

  describe('determinism (DW-box)', () => {
    const cases: [string, () => Defense][] = [
      ['dp-ddpm', () => new DpDdpm(unet, { numInferenceSteps: 50 })],
      ['dp-ddim eta=1', () => new DpDdim(unet, { numInferenceSteps: 50, eta: 1 })],
      ['diffpure+corrector', () => new DiffPure(unet, { numInferenceSteps: 40, corrector: true })],
    ];
    for (const [name, make] of cases) {
      it(`${name}: keyed noise on every stream is bit-identical on repeated calls; fresh noise is not; DW_Fwd / DW_Rev alone are not`, () => {
        const d = make();
        const x = images();
        const a = d.purify(x, keyed());
        const b = d.purify(x, keyed());
        expect(same(a, b)).to.equal(true);
        const f1 = d.purify(x, fresh());
        const src = new FreshNoiseSource(1, rows);
        const f2 = d.purify(x, src);
        const f3 = d.purify(x, src); // same fresh source, next draw
        expect(maxAbsDiff(f2, f3)).to.be.above(1e-3);
        expect(same(f1, f2)).to.equal(true); // fresh sources are seeded: the same seed replays a run
        const fwd = new PolicyNoiseSource(new Set(['forward']), 1, rows, new FreshNoiseSource(5, rows));
        const g1 = d.purify(x, fwd);
        const g2 = d.purify(x, fwd);
        expect(maxAbsDiff(g1, g2)).to.be.above(1e-4);
        const rev = new PolicyNoiseSource(new Set(['reverse', 'path', 'corrector']), 1, rows, new FreshNoiseSource(5, rows));
        const h1 = d.purify(x, rev);
        const h2 = d.purify(x, rev);
        expect(maxAbsDiff(h1, h2)).to.be.above(1e-4);
        const v = a.dataSync();
        expect(Math.min(...v)).to.be.at.least(0);
        expect(Math.max(...v)).to.be.at.most(1);
        tf.dispose([x, a, b, f1, f2, f3, g1, g2, h1, h2]);
      });
    }

    it('DP_DDIM with eta = 0 and keyed forward noise is deterministic (DW_Fwd == DW_Both)', () => {
      const d = new DpDdim(unet, { numInferenceSteps: 50 });
      const x = images();
      const src = mixed(['forward']);
      const a = d.purify(x, src);
      const b = d.purify(x, src);
      const c = d.purify(x, keyed());
      expect(same(a, b)).to.equal(true);
      expect(same(a, c)).to.equal(true);
      tf.dispose([x, a, b, c]);
    });

    it('options.onStep hears every reverse step (done, total) and changes nothing; identity never calls it', () => {
      const x = images();
      // the loop is the base class's (DiffPure's too)
      for (const d of [new DpDdpm(unet, { numInferenceSteps: 50 }), new DpDdim(unet, { numInferenceSteps: 50 })]) {
        const n = d.numSteps;
        expect(n).to.be.at.least(2);
        const calls: [number, number][] = [];
        const a = d.purify(x, keyed(), { onStep: (done, total) => calls.push([done, total]) });
        const b = d.purify(x, keyed());
        expect(calls).to.deep.equal(Array.from({ length: n }, (_, i) => [i + 1, n]));
        expect(same(a, b)).to.equal(true);
        tf.dispose([a, b]);
      }
      let called = false;
      const identity: Defense = new IdentityDefense();
      const id = identity.purify(x, keyed(), { onStep: () => (called = true) });
      expect(called).to.equal(false);
      tf.dispose([x, id]);
    });

    it('keyed noise is per sample: a row gives the same purification alone or in a batch', () => {
      const d = new DpDdpm(unet, { numInferenceSteps: 50 });
      const x = images();
      const both = d.purify(x, keyed());
      const second = tf.slice(x, [1, 0, 0, 0], [1, 16, 16, 3]) as tf.Tensor4D;
      const alone = d.purify(second, new KeyedNoiseSource(1, eotRows([7])));
      const row = tf.slice(both, [1, 0, 0, 0], [1, 16, 16, 3]);
      expect(maxAbsDiff(row, alone)).to.be.below(1e-5);
      tf.dispose([x, both, second, alone, row]);
    });
  });

  describe('gradients', () => {
    const chains: [string, (checkpoint: boolean) => Defense][] = [
      ['dp-ddpm (3 steps)', (checkpoint) => new DpDdpm(unet, { numInferenceSteps: 20, checkpoint })],
      ['dp-ddim eta=0.5 (3 steps)', (checkpoint) => new DpDdim(unet, { numInferenceSteps: 20, eta: 0.5, checkpoint })],
      ['diffpure + corrector (3 steps)', (checkpoint) => new DiffPure(unet, { numInferenceSteps: 20, corrector: true, checkpoint })],
      ['diffpure-original (3 steps)', (checkpoint) => new DiffPure(unet, { variant: 'diffpure-original', strength: 0.003, checkpoint })],
    ];
    for (const [name, make] of chains) {
      it(`${name}: checkpointed exact gradient equals plain tf.grad (within 1e-6; brief: 1e-5)`, () => {
        const ck = make(true);
        const plain = make(false);
        expect((ck as DpDdpm).numSteps).to.equal(3);
        const x = images();
        const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 9);
        const g1 = lossGrad(ck, x, () => keyed(), w);
        const g2 = lossGrad(plain, x, () => keyed(), w);
        const scale = tf.tidy(() => tf.max(tf.abs(g2)).dataSync()[0]);
        expect(scale).to.be.above(1e-3);
        expect(maxAbsDiff(g1, g2)).to.be.below(1e-6);
        tf.dispose([x, w, g1, g2]);
      });
    }

    it('under a tape the checkpointed chain recomputes each step once on the way back', () => {
      let calls = 0;
      const counting: EpsModel = { predictEps: (x, t) => (calls++, unet.predictEps(x, t)) };
      const x = images();
      const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 15);
      lossGrad(new DpDdpm(counting, { numInferenceSteps: 20 }), x, () => keyed(), w).dispose();
      expect(calls).to.equal(6); // 3 forward + 3 recompute
      calls = 0;
      lossGrad(new DpDdpm(counting, { numInferenceSteps: 20, checkpoint: false }), x, () => keyed(), w).dispose();
      expect(calls).to.equal(3);
      calls = 0;
      new DpDdpm(counting, { numInferenceSteps: 20 }).purify(x, keyed()).dispose();
      expect(calls).to.equal(3);
      tf.dispose([x, w]);
    });

    it('the recompute sees the pre-drawn noise even when the source never repeats a draw', () => {
      const ck = new DpDdpm(unet, { numInferenceSteps: 20 });
      const plain = new DpDdpm(unet, { numInferenceSteps: 20, checkpoint: false });
      const x = images();
      const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 10);
      const mem = new RememberingSource(rows);
      const g1 = lossGrad(ck, x, () => mem, w);
      expect([...mem.drawn.keys()]).to.deep.equal(['forward:0', 'reverse:100', 'reverse:50']);
      const g2 = lossGrad(plain, x, () => new ReplaySource(rows, mem.drawn), w);
      expect(maxAbsDiff(g1, g2)).to.be.below(1e-5);
      tf.dispose([x, w, g1, g2]);
    });

    it("the target's BPDA on a purifier: the backward pass is the identity (through the clamp too)", () => {
      const d = new DpDdpm(unet, { numInferenceSteps: 20 });
      const x = images();
      const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 12);
      const g = lossGrad(d, x, () => keyed(), w, 'bpda');
      expect(same(g, w)).to.equal(true);
      // the defense option `gradient` is the default mode of targets created on it
      expect(d.defaultGradient).to.equal('exact');
      expect(new DpDdpm(unet, { numInferenceSteps: 20, gradient: 'bpda' }).defaultGradient).to.equal('bpda');
      // the forward value is the purification itself, bit for bit
      const y1 = purifyWithGradient(d, x, keyed(), 'bpda');
      const y2 = d.purify(x, keyed());
      expect(same(y1, y2)).to.equal(true);
      tf.dispose([x, w, g, y1, y2]);
    });

    it('identity: exact gradient is the upstream gradient', () => {
      const d = new IdentityDefense();
      const x = images();
      const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 13);
      const g = lossGrad(d, x, () => keyed(), w);
      expect(same(g, w)).to.equal(true);
      tf.dispose([x, w, g]);
    });

    it('no tensor growth across repeated purify and gradient calls', () => {
      const ds: Defense[] = [
        new DpDdpm(unet, { numInferenceSteps: 20 }),
        new DpDdim(unet, { numInferenceSteps: 20 }),
        new DiffPure(unet, { numInferenceSteps: 20, corrector: true }),
        new IdentityDefense(),
      ];
      const x = images();
      const w = tf.randomNormal([B, 16, 16, 3], 0, 1, 'float32', 14);
      const run = (): void => {
        for (const d of ds) {
          d.purify(x, fresh()).dispose();
          lossGrad(d, x, () => fresh(), w).dispose();
          lossGrad(d, x, () => keyed(), w, 'bpda').dispose();
        }
      };
      run(); // warm-up (kernel caches)
      const before = tf.memory().numTensors;
      run();
      run();
      expect(tf.memory().numTensors).to.equal(before);
      tf.dispose([x, w]);
    });
  });

  describe('oracle eps-model (the network knows the clean image)', () => {
    it('DP_DDPM and DP_DDIM return the clean image (x0_hat is exact at every step)', () => {
      const x = images();
      const target = tf.tidy(() => tf.sub(tf.mul(x, 2), 1)) as tf.Tensor4D;
      const abar = new DDPMScheduler().alphasCumprod;
      const oracle = new OracleEps(target, (t) => abar[Math.round(t)]);
      for (const d of [
        new DpDdpm(oracle),
        new DpDdpm(oracle, { numInferenceSteps: 100, varianceType: 'fixed_small' }),
        new DpDdim(oracle),
        new DpDdim(oracle, { eta: 1 }),
      ]) {
        const y = d.purify(x, fresh());
        expect(maxAbsDiff(y, x), d.id).to.be.below(2e-5);
        y.dispose();
      }
      tf.dispose([x, target]);
    });

    it('DiffPure (both variants) lands near the clean image with the exact score of a point mass', () => {
      const x = images();
      const target = tf.tidy(() => tf.sub(tf.mul(x, 2), 1)) as tf.Tensor4D;
      const vp = new VPSDE();
      const oracle = new OracleEps(target, (time) => vp.alphaBar(time / 999));
      for (const d of [new DiffPure(oracle), new DiffPure(oracle, { variant: 'diffpure-original' })]) {
        const y = d.purify(x, fresh());
        const err = tf.tidy(() => tf.mean(tf.abs(tf.sub(y, x))).dataSync()[0]);
        expect(err, d.options.variant).to.be.below(0.02);
        y.dispose();
      }
      tf.dispose([x, target]);
    });
  });
});
