/** Test fixtures: an in-memory dataset, a tiny dense classifier task, temp dirs. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, meanCrossEntropy, type Batch, type Dataset, type PluginDefinition } from '@dbp-bench/framework';
import { readF32Safetensors, writeF32Safetensors, type NamedParam, type StepOutput, type TrainBatch, type TrainingTask } from '../src';

/** A deterministic labelled dataset of n images h x w x c in [0,1] (class = brightest quadrant). */
export class MemoryDataset implements Dataset {
  readonly info;
  private readonly images: Float32Array;
  private readonly ys: Int32Array;
  constructor(
    n: number,
    readonly shape: [number, number, number] = [8, 8, 1],
    seed = 1,
    numClasses = 4,
    split = 'train',
  ) {
    const [h, w, c] = shape;
    const rng = new SeededRng(seed, 'data');
    this.images = new Float32Array(n * h * w * c);
    this.ys = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const y = rng.int(numClasses);
      this.ys[i] = y;
      for (let p = 0; p < h * w * c; p++) {
        const row = Math.floor(p / (w * c));
        const col = Math.floor((p % (w * c)) / c);
        const q = (row < h / 2 ? 0 : 2) + (col < w / 2 ? 0 : 1);
        this.images[i * h * w * c + p] = Math.min(1, 0.3 * rng.uniform() + (q % numClasses === y ? 0.6 : 0.1));
      }
    }
    this.info = {
      id: 'memory',
      split,
      size: n,
      shape,
      numClasses,
      classNames: Array.from({ length: numClasses }, (_, i) => String(i)),
      source: 'memory',
    } as const;
  }
  async get(indices: readonly number[]): Promise<Batch> {
    const per = this.shape[0] * this.shape[1] * this.shape[2];
    const data = new Float32Array(indices.length * per);
    indices.forEach((idx, r) => data.set(this.images.subarray(idx * per, (idx + 1) * per), r * per));
    return {
      images: tf.tensor4d(data, [indices.length, ...this.shape]),
      labels: Int32Array.from(indices, (i) => this.ys[i]),
      indices: [...indices],
    };
  }
  async labels(indices: readonly number[]): Promise<Int32Array> {
    return Int32Array.from(indices, (i) => this.ys[i]);
  }
}

/** A dataset plugin over MemoryDataset (options: n, size h, channels c, split). */
export const memoryDatasetPlugin: PluginDefinition<Dataset> = {
  kind: 'dataset',
  id: 'memory',
  description: 'in-memory test data',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      n: { type: 'integer', default: 64 },
      size: { type: 'integer', default: 8 },
      channels: { type: 'integer', default: 1 },
      split: { type: 'string', default: 'train' },
      classes: { type: 'integer', default: 4 },
    },
  },
  create: (o: { n: number; size: number; channels: number; split: string; classes: number }) =>
    new MemoryDataset(o.n, [o.size, o.size, o.channels], o.split === 'train' ? 1 : 2, o.classes, o.split),
};

/** A 2-layer MLP classifier with dropout, in plain tf ops (trainable on any backend). */
export class Mlp {
  readonly w1: tf.Variable;
  readonly b1: tf.Variable;
  readonly w2: tf.Variable;
  readonly b2: tf.Variable;
  training = false;
  constructor(
    readonly inDim: number,
    readonly hidden: number,
    readonly numClasses: number,
    seed = 0,
    readonly dropoutRate = 0.25,
  ) {
    const rng = new SeededRng(seed, 'mlp');
    const init = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.normal() * scale);
    const v = (t: () => tf.Tensor, n: string) => tf.tidy(() => tf.variable(t(), true, `mlp${seed}_${Math.random()}.${n}`));
    this.w1 = v(() => tf.tensor2d(init(inDim * hidden, 1 / Math.sqrt(inDim)), [inDim, hidden]), 'w1');
    this.b1 = v(() => tf.zeros([hidden]), 'b1');
    this.w2 = v(() => tf.tensor2d(init(hidden * numClasses, 1 / Math.sqrt(hidden)), [hidden, numClasses]), 'w2');
    this.b2 = v(() => tf.zeros([numClasses]), 'b2');
  }
  logits(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const flat = tf.reshape(x, [x.shape[0], -1]) as tf.Tensor2D;
      let h = tf.relu(tf.add(tf.matMul(flat, this.w1), this.b1));
      if (this.training) h = tf.dropout(h, this.dropoutRate);
      return tf.add(tf.matMul(h, this.w2), this.b2) as tf.Tensor2D;
    });
  }
  namedWeights(): Map<string, tf.Variable> {
    return new Map([
      ['fc1.weight', this.w1],
      ['fc1.bias', this.b1],
      ['fc2.weight', this.w2],
      ['fc2.bias', this.b2],
    ]);
  }
  trainableVariables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }
  dispose(): void {
    this.trainableVariables().forEach((v) => v.dispose());
  }
}

/** A TrainingTask over the MLP: cross-entropy, with evaluation = accuracy on a fixed set. */
export class MlpTask implements TrainingTask {
  readonly trainerId = 'mlp-test';
  readonly params: NamedParam[];
  readonly evaluate?: () => Promise<Record<string, number>>;
  constructor(
    readonly model: Mlp,
    evalSet?: MemoryDataset,
  ) {
    this.params = [...model.namedWeights()].map(([name, variable]) => ({ name, variable }));
    if (evalSet) {
      this.evaluate = async () => {
        const b = await evalSet.get(Array.from({ length: evalSet.info.size }, (_, i) => i));
        const acc = tf.tidy(
          () => tf.mean(tf.cast(tf.equal(tf.argMax(model.logits(b.images), 1), tf.tensor1d(b.labels, 'int32')), 'float32')).dataSync()[0],
        );
        b.images.dispose();
        return { cleanAcc: acc };
      };
    }
  }
  setTraining(training: boolean): void {
    this.model.training = training;
  }
  computeGradients(batch: TrainBatch): StepOutput {
    const y = tf.tensor1d(batch.labels, 'int32');
    const vars = this.params.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => meanCrossEntropy(this.model.logits(batch.images), y), vars);
    y.dispose();
    return { loss: value, grads: vars.map((v) => grads[v.name]) };
  }
  saveWeights(file: string, metadata: Record<string, unknown>): void {
    writeF32Safetensors(file, this.model.namedWeights(), Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])));
  }
  loadWeights(file: string): void {
    const saved = readF32Safetensors(file).tensors;
    for (const [name, v] of this.model.namedWeights()) {
      const e = saved.get(name)!;
      tf.tidy(() => v.assign(tf.tensor(e.data, v.shape, 'float32')));
    }
  }
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dbp-${prefix}-`));
}

/** Float32 contents of every weight, by name. */
export function weightValues(model: { namedWeights(): Map<string, tf.Variable> }): Map<string, Float32Array> {
  return new Map([...model.namedWeights()].map(([k, v]) => [k, (v.dataSync() as Float32Array).slice()]));
}

/** Kernel availability (filter gradients of conv2d are needed to train conv nets). */
export function canTrainConvs(): boolean {
  return Boolean(tf.getKernel('Conv2DBackpropFilter', tf.getBackend()));
}
