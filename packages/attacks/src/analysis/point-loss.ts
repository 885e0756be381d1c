/** Cross-entropy of classifier ∘ purification at many points around one sample. */
import * as tf from '@tensorflow/tfjs-core';
import {
  KeyedNoiseSource,
  crossEntropyLoss,
  hash32,
  type Classifier,
  type Defense,
  type NoiseRow,
  type NoiseSource,
} from '@dbp-bench/framework';

/**
 * Mean CE over `draws` purifications of each point (rows [P, H, W, C]), all for dataset sample
 * `sample` with label `label`. Draw j of every point uses the noise `noise(rows)` gives for row
 * (sample, eot j), so with a keyed source all points share the same draws (common random numbers,
 * which makes loss curves and surfaces comparable point to point).
 */
export function pointLosses(
  classifier: Classifier,
  defense: Defense,
  points: tf.Tensor4D,
  label: number,
  sample: number,
  draws: number,
  noise: (rows: readonly NoiseRow[]) => NoiseSource,
  microBatch = 32,
): Float64Array {
  const P = points.shape[0];
  const N = P * draws;
  const out = new Float64Array(P);
  const mb = Math.max(1, Math.floor(microBatch));
  for (let s = 0; s < N; s += mb) {
    const e = Math.min(N, s + mb);
    const pIdx = Array.from({ length: e - s }, (_, i) => Math.floor((s + i) / draws));
    const rows = Array.from({ length: e - s }, (_, i) => ({ sample, eot: (s + i) % draws }));
    const l = tf.tidy(() => {
      const xs = tf.gather(points, tf.tensor1d(pIdx, 'int32')) as tf.Tensor4D;
      const logits = classifier.logits(defense.purify(xs, noise(rows)));
      return crossEntropyLoss(logits, tf.fill([e - s], label, 'int32') as tf.Tensor1D);
    });
    const v = l.dataSync();
    l.dispose();
    for (let i = 0; i < v.length; i++) out[pIdx[i]] += v[i] / draws;
  }
  return out;
}

/** A keyed source for the analyses' "fresh noise" expectation: independent of every attack's noise. */
export function analysisNoise(seed: number, label: string): (rows: readonly NoiseRow[]) => NoiseSource {
  const s = (seed ^ hash32(`analysis:${label}`)) >>> 0;
  return (rows) => new KeyedNoiseSource(s, rows);
}
