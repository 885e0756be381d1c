// Noise policies (pure data), the policy noise source, the attack target and the BPDA estimator it
// applies to every defense (ALGORITHMS.md §7, §6.3).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  DW_POLICIES,
  FreshNoiseSource,
  IncompatiblePluginError,
  KEYED_KINDS,
  KeyedNoiseSource,
  NOISE_POLICIES,
  NOISE_STREAM_KINDS,
  POLICY_NAMES,
  PolicyNoiseSource,
  createTarget,
  eotRows,
  identityBackward,
  isNoisePolicy,
  isRecordingGradient,
  purifiedLogits,
  purifyWithGradient,
  targetGradientModes,
  targetLogits,
  type Classifier,
  type Defense,
  type DefenseCapabilities,
  type GradientMode,
  type NoiseSource,
} from '../src';

const same = (a: tf.Tensor, b: tf.Tensor): boolean => {
  const x = a.dataSync();
  const y = b.dataSync();
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

/** A stochastic, nonlinear purification: clip(x^2 + 0.3·forward noise + 0.1·reverse noise, 0, 1). */
class SquareNoiseDefense implements Defense {
  readonly id = 'square-noise';
  calls = 0;
  tapeSeen: boolean[] = [];
  readonly capabilities: DefenseCapabilities;
  constructor(
    gradientModes: GradientMode[] = ['exact'],
    readonly defaultGradient?: GradientMode,
  ) {
    this.capabilities = { stochastic: true, streams: ['forward', 'reverse'], gradientModes, networkCalls: 0 };
  }
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    this.calls++;
    this.tapeSeen.push(isRecordingGradient());
    return tf.tidy(() => {
      const a = tf.mul(noise.normal({ kind: 'forward' }, x.shape), 0.3);
      const b = tf.mul(noise.normal({ kind: 'reverse', step: 4 }, x.shape), 0.1);
      return tf.clipByValue(tf.add(tf.add(tf.square(x), a), b), 0, 1) as tf.Tensor4D;
    });
  }
}

/** logits = reshape(x) · W with a fixed W (3 classes). */
class LinearClassifier implements Classifier {
  readonly numClasses = 3;
  private readonly w: tf.Tensor2D;
  constructor(d: number) {
    this.w = tf.keep(
      tf.tensor2d(
        Float32Array.from({ length: d * 3 }, (_, i) => Math.sin(i + 1)),
        [d, 3],
      ),
    );
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D, this.w));
  }
}

describe('noise policies (pure data)', () => {
  it('names, the keyed stream kinds of each policy and the DW-box subset', () => {
    expect(NOISE_POLICIES).to.deep.equal(['fresh', 'fwd', 'rev', 'both']);
    expect(DW_POLICIES).to.deep.equal(['fwd', 'rev', 'both']);
    expect(KEYED_KINDS.fresh).to.deep.equal([]);
    expect(KEYED_KINDS.fwd).to.deep.equal(['forward']);
    expect(KEYED_KINDS.rev).to.deep.equal(['reverse', 'path', 'corrector']);
    expect(KEYED_KINDS.both).to.deep.equal([...NOISE_STREAM_KINDS]);
    expect(Object.keys(POLICY_NAMES)).to.deep.equal([...NOISE_POLICIES]);
    expect(NOISE_POLICIES.every(isNoisePolicy)).to.equal(true);
    expect([isNoisePolicy('DW_Both'), isNoisePolicy(undefined), isNoisePolicy('')]).to.deep.equal([false, false, false]);
  });

  it("targets offer 'exact' when the defense declares it and 'bpda' for every defense", () => {
    expect(targetGradientModes({ gradientModes: ['exact'] })).to.deep.equal(['exact', 'bpda']);
    expect(targetGradientModes({ gradientModes: ['bpda', 'exact'] })).to.deep.equal(['exact', 'bpda']);
    expect(targetGradientModes({ gradientModes: [] })).to.deep.equal(['bpda']);
    expect(targetGradientModes({ gradientModes: ['exact', 'surrogate'] })).to.deep.equal(['exact', 'bpda', 'surrogate']);
  });

  it('noise-policy.js loads no TensorFlow.js module (it lives in the TF-free core)', () => {
    const file = path.join(__dirname, '..', '..', '..', 'core', 'dist', 'src', 'noise-policy.js');
    const script =
      `const m = require(${JSON.stringify(file)});` +
      `const tfMods = Object.keys(require.cache).filter((k) => k.includes('@tensorflow'));` +
      `process.stdout.write(JSON.stringify({ tfMods, policies: m.NOISE_POLICIES }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as {
      tfMods: string[];
      policies: string[];
    };
    expect(out.tfMods).to.deep.equal([]);
    expect(out.policies).to.deep.equal([...NOISE_POLICIES]);
  });
});

describe('PolicyNoiseSource', () => {
  const shape = (n: number): number[] => [n, 2, 2, 1];

  it('keys exactly the chosen streams; keyed draws ignore the EoT index and equal the keyed source at eot 0', () => {
    const rows = eotRows([5, 8], 2);
    const src = new PolicyNoiseSource(new Set(['forward']), 3, rows, new FreshNoiseSource(7, rows));
    const f1 = src.normal({ kind: 'forward' }, shape(4));
    const f2 = src.normal({ kind: 'forward' }, shape(4));
    const ref = new KeyedNoiseSource(3, eotRows([5, 5, 8, 8], 1)).normal({ kind: 'forward' }, shape(4));
    expect(same(f1, f2)).to.equal(true);
    expect(same(f1, ref)).to.equal(true);
    const r1 = src.normal({ kind: 'reverse', step: 1 }, shape(4));
    const r2 = src.normal({ kind: 'reverse', step: 1 }, shape(4));
    expect(same(r1, r2)).to.equal(false);
    // fresh streams: exactly the fresh source's draws
    const fresh = new FreshNoiseSource(7, rows);
    const q1 = fresh.normal({ kind: 'reverse', step: 1 }, shape(4));
    expect(same(r1, q1)).to.equal(true);
    // withRows keeps the policy (keyed stays keyed on a sub-batch)
    const sub = src.withRows(eotRows([8], 1)).normal({ kind: 'forward' }, shape(1));
    expect(same(sub, ref.slice([2, 0, 0, 0], [1, 2, 2, 1]))).to.equal(true);
    expect(src.describe()).to.match(/keyed=\[forward\] keyed\(seed=3\), fresh\(seed=7\)/);
    tf.dispose([f1, f2, ref, r1, r2, q1, sub]);
  });
});

describe('the attack target and its BPDA estimator', () => {
  const x = (): tf.Tensor4D =>
    tf.tidy(() => tf.mul(tf.add(tf.sin(tf.range(0, 2 * 3 * 3 * 1).reshape([2, 3, 3, 1])), 1), 0.45) as tf.Tensor4D);
  const rows = eotRows([4, 9]);

  it('BPDA: purify forward (bit for bit), identity backward, purify not recorded on the tape', () => {
    const d = new SquareNoiseDefense();
    const xs = x();
    const w = tf.tidy(() => tf.cos(tf.range(0, 18).reshape([2, 3, 3, 1])));
    const noise = (): NoiseSource => new KeyedNoiseSource(2, rows);
    const y = purifyWithGradient(d, xs, noise(), 'bpda');
    const yRef = d.purify(xs, noise());
    expect(same(y, yRef)).to.equal(true);
    d.tapeSeen = [];
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(purifyWithGradient(d, a as tf.Tensor4D, noise(), 'bpda'), w)))(xs);
    expect(same(g, w)).to.equal(true);
    expect(d.tapeSeen).to.deep.equal([false]);
    // exact: the tape records purify and the gradient is 2x w where the clip is inactive (here: not w)
    d.tapeSeen = [];
    const ge = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(purifyWithGradient(d, a as tf.Tensor4D, noise(), 'exact'), w)))(xs);
    expect(d.tapeSeen).to.deep.equal([true]);
    expect(same(ge, w)).to.equal(false);
    // identityBackward on its own
    const gi = tf.grad((a: tf.Tensor) =>
      tf.sum(
        tf.mul(
          identityBackward((z) => tf.exp(z), a as tf.Tensor4D),
          w,
        ),
      ),
    )(xs);
    expect(same(gi, w)).to.equal(true);
    tf.dispose([xs, w, y, yRef, g, ge, gi]);
  });

  it("BPDA through a target: the classifier's gradient at the purified point, for a defense without an exact gradient", () => {
    const d = new SquareNoiseDefense([]);
    const clf = new LinearClassifier(9);
    const xs = x();
    const t = createTarget(clf, d, { policy: 'both', seed: 6, gradient: 'bpda' });
    expect(() => createTarget(clf, d, { gradient: 'exact' })).to.throw(IncompatiblePluginError, /square-noise.*'exact'/);
    const labels = tf.tensor1d([0, 2], 'int32');
    const loss = (logits: tf.Tensor2D): tf.Scalar => tf.sum(tf.mul(tf.oneHot(labels, 3), tf.logSoftmax(logits)));
    const g = tf.grad((a: tf.Tensor) => loss(t.logits(a as tf.Tensor4D, rows)))(xs);
    const purified = d.purify(xs, t.noise(rows));
    const manual = tf.grad((p: tf.Tensor) => loss(clf.logits(p as tf.Tensor4D)))(purified);
    expect(same(g, manual)).to.equal(true);
    // the override path of targetLogits and purifiedLogits agree with the target
    const l1 = targetLogits(t, xs, rows, 'bpda');
    const l2 = purifiedLogits(clf, d, xs, t.noise(rows), 'bpda');
    expect(same(l1, l2)).to.equal(true);
    tf.dispose([xs, labels, g, purified, manual, l1, l2]);
  });

  it("a defense's defaultGradient is the target's default, else exact; unknown policies are refused", () => {
    const clf = new LinearClassifier(9);
    expect(createTarget(clf, new SquareNoiseDefense()).gradient).to.equal('exact');
    expect(createTarget(clf, new SquareNoiseDefense(['exact'], 'bpda')).gradient).to.equal('bpda');
    expect(createTarget(clf, new SquareNoiseDefense(['exact'], 'bpda'), { gradient: 'exact' }).gradient).to.equal('exact');
    expect(() => createTarget(clf, new SquareNoiseDefense(), { policy: 'DW_Both' as never })).to.throw(
      IncompatiblePluginError,
      /unknown noise policy/,
    );
  });

  it('leaks no tensors over repeated BPDA and exact gradients', () => {
    const d = new SquareNoiseDefense();
    const clf = new LinearClassifier(9);
    const xs = x();
    const run = (): void => {
      for (const gradient of ['exact', 'bpda'] as const) {
        const t = createTarget(clf, d, { gradient });
        tf.grad((a: tf.Tensor) => tf.sum(t.logits(a as tf.Tensor4D, rows)))(xs).dispose();
      }
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).to.equal(before);
    xs.dispose();
  });
});
