/**
 * The eot bench suite: what EoT costs per replica. For one image through DP_DDPM (101 steps, ADDT
 * default N = 1000) and DP_DDIM (11 steps, N = 100) on the UNet preset `small` with a ResNet-20
 * classifier (random weights; the cost does not depend on them), it times the attacks' own gradient
 * estimator (@dbp-bench/attacks `estimateGradient`, exact gradient, cross-entropy, fresh noise):
 *
 * - batched: one EoT-10 gradient, the 10 replicas in the batch dimension (one pass of 10 rows, the
 *   estimator's default micro-batch of 16 holds them all), as every attack with `eot.samples: 10` does;
 * - sequential: ten EoT-1 gradients of the same image (one row each), what 10 independent draws cost.
 *
 * The row's seconds are the batched EoT-10 gradient; the note gives the sequential time, the ratio
 * batched / sequential (below 1: batching saves) and the process peak RSS after the row (the peak
 * is a high-water mark, so the sequential case runs first). --quick: 3-step chains (N = 20).
 *
 * Every replica is a separate chain from its first network call on (the forward noise enters x_t
 * before the first UNet call), so batching the replicas is the only saving that leaves the gradient
 * exact; docs/PERFORMANCE.md §6 says why nothing else is shared.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createTarget, type AttackTarget } from '@dbp-bench/framework';
import { createClassifier, defaultClassifierConfig, UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DpDdim } from '@dbp-bench/defenses-dbp';
import { estimateGradient } from '@dbp-bench/attacks';
import type { BenchOptions, BenchRow, BenchSuite } from './types';
import { benchChains, memoryNote, time } from './defenses';

/** EoT replicas of the measured gradient. */
export const EOT_K = 10;

/** One EoT-`k` exact gradient of image `x` (label `y`) on `target`, as the attacks compute it. */
export function eotGradient(target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, k: number): tf.Tensor4D {
  return estimateGradient(target, x, y, [0], { eot: { samples: k, microBatch: 16 }, loss: 'ce', gradient: 'exact' }).grad;
}

export const eotBench: BenchSuite = {
  name: 'eot',
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    const unet = new UNet(UNET_PRESETS.small, 0);
    const classifier = createClassifier('resnet20', defaultClassifierConfig('resnet20'), 1);
    const x = tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = tf.tensor1d([3], 'int32');
    const rows: BenchRow[] = [];
    const cases = benchChains(unet, opts.quick);
    try {
      // Warm up kernels and the heap on a 1-step chain at both batch sizes.
      const warm = createTarget(classifier, new DpDdim(unet, { numInferenceSteps: 1000, strength: 0.001 }), { seed: 0, gradient: 'exact' });
      time(() => eotGradient(warm, x, y, EOT_K), 0, 1);
      time(() => eotGradient(warm, x, y, 1), 0, 1);
      for (const [id, d] of cases) {
        const target = createTarget(classifier, d, { seed: 0, gradient: 'exact' });
        // ten independent draws: each call is a fresh EoT-1 estimate (the target's fresh streams move on)
        const seq = time(
          () => {
            let sum = eotGradient(target, x, y, 1);
            for (let i = 1; i < EOT_K; i++) {
              const g = eotGradient(target, x, y, 1);
              const next = tf.add(sum, g) as tf.Tensor4D;
              tf.dispose([sum, g]);
              sum = next;
            }
            return sum;
          },
          1,
          0,
        );
        const seqMemory = memoryNote();
        const batched = time(() => eotGradient(target, x, y, EOT_K), 1, 0);
        rows.push({
          suite: 'eot',
          name: `${id} ${d.numSteps}-step EoT-${EOT_K} exact gradient, 1 image (${EOT_K} replicas in one pass), UNet small + ResNet-20`,
          seconds: batched,
          rssBytes: process.memoryUsage().rss,
          note:
            `${EOT_K} x EoT-1 (one row each): ${seq.toFixed(2)} s (${seqMemory}); batched / sequential = ${(batched / seq).toFixed(2)}; ` +
            `${(batched / EOT_K).toFixed(3)} s per replica; ${memoryNote()}`,
        });
      }
    } finally {
      tf.dispose([x, y]);
      classifier.dispose();
      unet.dispose();
    }
    return rows;
  },
};
