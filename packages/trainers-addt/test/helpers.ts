/** Test fixtures of the diffusion trainers. */
import * as tf from '@tensorflow/tfjs-core';
import { SeededRng, type Batch, type Dataset, type PluginDefinition } from '@dbp-bench/framework';

/** Random-blob images with a label (deterministic), 16x16x3 in [0,1]. */
export const blobs: PluginDefinition<Dataset> = {
  kind: 'dataset',
  id: 'blobs',
  description: 'test images',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: { n: { type: 'integer', default: 16 }, split: { type: 'string', default: 'train' } },
  },
  create: (o: { n: number; split: string }): Dataset => {
    const per = 16 * 16 * 3;
    const rng = new SeededRng(o.split === 'train' ? 1 : 2, 'blobs');
    const data = Float32Array.from(
      { length: o.n * per },
      (_, i) => 0.5 + 0.4 * Math.sin(i / 37 + (Math.floor(i / per) % 3)) * rng.uniform(),
    );
    const labels = Int32Array.from({ length: o.n }, (_, i) => i % 10);
    return {
      info: { id: 'blobs', split: o.split, size: o.n, shape: [16, 16, 3], numClasses: 10, classNames: [...'0123456789'], source: 'test' },
      async get(idx: readonly number[]): Promise<Batch> {
        const out = new Float32Array(idx.length * per);
        idx.forEach((j, r) => out.set(data.subarray(j * per, (j + 1) * per), r * per));
        return { images: tf.tensor4d(out, [idx.length, 16, 16, 3]), labels: Int32Array.from(idx, (j) => labels[j]), indices: [...idx] };
      },
      async labels(idx: readonly number[]) {
        return Int32Array.from(idx, (j) => labels[j]);
      },
    };
  },
};
