/**
 * Lee & Kim's purification process as their code defines it (ALGORITHMS.md §14.3, [LeeKim-code]
 * `purification.py`, `test.py` `get_diffusion_params`), kept as the reference the project's surrogate
 * gradients (`Defense.surrogate()`, gradient mode `surrogate`) are documented against: the timestep
 * list of a round (T, n) and one update with eta. The project's defenses keep their own samplers; the
 * surrogate is the same defense with a shorter schedule (`surrogate.numInferenceSteps`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { DbpError } from '@dbp-bench/framework';

/**
 * Timesteps of one round (T, n), ascending: stride s = floor(T / n), {s - 1, 2s - 1, ..., n·s - 1}
 * ((200, 5) -> [39, 79, 119, 159, 199]; (30, 1) -> [29]; (125, 5) -> [24, 49, 74, 99, 124]). The
 * forward noise is at abar of the last entry; the reverse process visits them in descending order.
 */
export function leeKimTimesteps(T: number, n: number): number[] {
  if (!Number.isInteger(T) || !Number.isInteger(n) || T < 1 || n < 1 || n > T) {
    throw new DbpError('E_ASSERT', `leeKimTimesteps: T and n must be integers with 1 <= n <= T, got (${T}, ${n})`);
  }
  const s = Math.floor(T / n);
  return Array.from({ length: n }, (_, i) => (i + 1) * s - 1);
}

/**
 * One update of Lee & Kim's process from abar `aT` to `aNext` (1 after the last timestep):
 * x0_hat = (x - sqrt(1 - aT) eps) / sqrt(aT); c1 = eta sqrt((1 - aT/aNext)(1 - aNext)/(1 - aT));
 * c2 = sqrt(1 - aNext - c1^2); x <- sqrt(aNext) x0_hat + c1 z + c2 eps; no x0 clipping. eta 1 is
 * their "ddpm", eta 0 their "ddim" (then `z` is not used).
 */
export function leeKimUpdate(x: tf.Tensor4D, eps: tf.Tensor4D, aT: number, aNext: number, eta: number, z?: tf.Tensor4D): tf.Tensor4D {
  const c1 = eta * Math.sqrt(((1 - aT / aNext) * (1 - aNext)) / (1 - aT));
  const c2 = Math.sqrt(Math.max(1 - aNext - c1 * c1, 0));
  if (c1 > 0 && !z) throw new DbpError('E_ASSERT', `leeKimUpdate: eta ${eta} adds noise but no noise tensor was given`);
  return tf.tidy(() => {
    const x0 = tf.div(tf.sub(x, tf.mul(eps, Math.sqrt(1 - aT))), Math.sqrt(aT));
    let out = tf.add(tf.mul(x0, Math.sqrt(aNext)), tf.mul(eps, c2));
    if (c1 > 0 && z) out = tf.add(out, tf.mul(z, c1));
    return out as tf.Tensor4D;
  });
}
