/**
 * Test fixtures: synthetic data, a small MLP trained in the test, and toy defenses that use the
 * framework contracts (noise streams, gradient modes) without any diffusion model.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  SeededRng,
  type AttackTarget,
  type Classifier,
  type Defense,
  type DefenseCapabilities,
  type GradientMode,
  type NoiseRow,
  type NoiseSource,
  type NoiseStreamKind,
  KeyedNoiseSource,
} from '@dbp-bench/framework';

export const H = 8;
export const W = 8;
export const C = 1;
export const NUM_CLASSES = 3;

/** Class prototypes 0.5 ± 0.06 per pixel plus Gaussian noise (sd 0.03), clipped to [0,1]. */
export function syntheticData(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D; labels: Int32Array } {
  const protoRng = new SeededRng(1234, 'prototypes');
  const protos = Array.from({ length: NUM_CLASSES }, () =>
    Float32Array.from({ length: H * W * C }, () => 0.5 + (protoRng.uniform() < 0.5 ? -0.06 : 0.06)),
  );
  const rng = new SeededRng(seed, 'samples');
  const data = new Float32Array(n * H * W * C);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % NUM_CLASSES;
    labels[i] = c;
    for (let j = 0; j < H * W * C; j++) data[i * H * W * C + j] = Math.min(1, Math.max(0, protos[c][j] + 0.03 * rng.normal()));
  }
  return { x: tf.tensor4d(data, [n, H, W, C]), y: tf.tensor1d(labels, 'int32'), labels };
}

/** A 2-layer MLP classifier on [0,1] images (plain matMul; differentiable on every backend). */
export class Mlp implements Classifier {
  readonly numClasses = NUM_CLASSES;
  readonly vars: tf.Variable[];
  constructor(seed = 0, hidden = 32) {
    const rng = new SeededRng(seed, 'mlp');
    const d = H * W * C;
    const init = (rows: number, cols: number, scale: number): tf.Variable =>
      tf.variable(
        tf.tensor2d(
          Float32Array.from({ length: rows * cols }, () => rng.normal() * scale),
          [rows, cols],
        ),
      );
    this.vars = [
      init(d, hidden, Math.sqrt(2 / d)),
      tf.variable(tf.zeros([hidden])),
      init(hidden, NUM_CLASSES, Math.sqrt(1 / hidden)),
      tf.variable(tf.zeros([NUM_CLASSES])),
    ];
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const [w1, b1, w2, b2] = this.vars;
      const f = tf.sub(tf.reshape(x, [x.shape[0], -1]), 0.5);
      const h = tf.relu(tf.add(tf.matMul(f as tf.Tensor2D, w1 as tf.Tensor2D), b1));
      return tf.add(tf.matMul(h, w2 as tf.Tensor2D), b2) as tf.Tensor2D;
    });
  }
  accuracy(x: tf.Tensor4D, labels: Int32Array): number {
    const p = tf.tidy(() => tf.argMax(this.logits(x), 1));
    const d = p.dataSync();
    p.dispose();
    let ok = 0;
    for (let i = 0; i < labels.length; i++) if (d[i] === labels[i]) ok++;
    return ok / labels.length;
  }
}

let trained: Promise<Mlp> | undefined;

/** An MLP trained with Adam on synthetic data (cached for the whole test run). */
export function trainedMlp(): Promise<Mlp> {
  trained ??= (async () => {
    const model = new Mlp(0);
    const { x, y } = syntheticData(150, 1);
    const opt = tf.train.adam(0.01);
    for (let i = 0; i < 150; i++) {
      tf.tidy(() => {
        opt.minimize(
          () => tf.mean(tf.losses.softmaxCrossEntropy(tf.oneHot(y, NUM_CLASSES), model.logits(x))) as tf.Scalar,
          false,
          model.vars,
        );
      });
    }
    opt.dispose();
    x.dispose();
    y.dispose();
    return model;
  })();
  return trained;
}

/** The undefended model: purify(x) = x. */
export class IdentityToyDefense implements Defense {
  readonly id = 'toy-identity';
  readonly capabilities: DefenseCapabilities = { stochastic: false, streams: [], gradientModes: ['exact'], networkCalls: 0 };
  purify(x: tf.Tensor4D): tf.Tensor4D {
    return x.clone();
  }
}

/**
 * A stochastic toy purification: add sigma·(forward noise), smooth with a fixed 3x3 kernel, add
 * sigma·(reverse noise). With `streams: ['forward']` it is deterministic given the forward noise
 * (like DP_DDIM with eta = 0).
 */
export class ToyNoiseDefense implements Defense {
  readonly id: string;
  readonly capabilities: DefenseCapabilities;
  private readonly kernel: tf.Tensor4D;
  calls = 0;
  constructor(
    readonly streams: NoiseStreamKind[] = ['forward', 'reverse'],
    readonly sigma = 0.05,
  ) {
    this.id = `toy-noise-${streams.join('+')}`;
    this.capabilities = { stochastic: streams.length > 0, streams, gradientModes: ['exact'], networkCalls: 0 };
    const k = [0.05, 0.1, 0.05, 0.1, 0.4, 0.1, 0.05, 0.1, 0.05];
    this.kernel = tf.keep(tf.tensor4d(k, [3, 3, 1, 1]));
  }
  private exact(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    return tf.tidy(() => {
      let h: tf.Tensor4D = x;
      if (this.streams.includes('forward')) h = tf.add(h, tf.mul(noise.normal({ kind: 'forward' }, x.shape), this.sigma));
      h = tf.conv2d(h, this.kernel, 1, 'same');
      if (this.streams.includes('reverse')) h = tf.add(h, tf.mul(noise.normal({ kind: 'reverse', step: 1 }, x.shape), this.sigma));
      return h;
    });
  }
  purify(x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D {
    this.calls++;
    return this.exact(x, noise);
  }
}

/** A target whose every stream is keyed by (seed, sample, EoT index): deterministic per row. */
export class RowKeyedTarget implements AttackTarget {
  readonly gradient: GradientMode = 'exact';
  constructor(
    readonly classifier: Classifier,
    readonly defense: Defense,
    readonly seed = 5,
  ) {}
  noise(rows: readonly NoiseRow[]): NoiseSource {
    return new KeyedNoiseSource(this.seed, rows);
  }
  logits(x: tf.Tensor4D, rows: readonly NoiseRow[]): tf.Tensor2D {
    return tf.tidy(() => this.classifier.logits(this.defense.purify(x, this.noise(rows))));
  }
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = d.dataSync()[0];
  d.dispose();
  return v;
}
