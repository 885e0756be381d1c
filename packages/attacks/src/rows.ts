/**
 * Row bookkeeping of the attacks (restarts and per-sample selection work on sub-batches): gather rows,
 * write rows back, choose rows by a per-sample mask. The threat geometry is the framework's
 * (geometry.ts).
 */
import * as tf from '@tensorflow/tfjs-core';

/** rows of `next` where mask[i] is true, rows of `prev` elsewhere (mask per sample). */
export function selectRows(mask: ArrayLike<boolean | number>, next: tf.Tensor4D, prev: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const m = tf.tensor4d(
      Array.from(mask, (v) => (v ? 1 : 0)),
      [mask.length, 1, 1, 1],
      'bool',
    );
    return tf.where(tf.broadcastTo(m, next.shape), next, prev) as tf.Tensor4D;
  });
}

/**
 * Write the rows of `sub` (one per entry of `positions`) into a copy of `full` at those positions.
 */
export function scatterRows(full: tf.Tensor4D, sub: tf.Tensor4D, positions: readonly number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const n = full.shape[0];
    const map = Array.from({ length: n }, (_, i) => sub.shape[0] + i);
    positions.forEach((p, j) => (map[p] = j));
    return tf.gather(tf.concat([sub, full], 0), tf.tensor1d(map, 'int32')) as tf.Tensor4D;
  });
}

/**
 * `full` with row positions[j] replaced by row fromRows[j] of `from` (a sub-batch's result written
 * back into the batch's best); disposes `full` and returns the new tensor.
 */
export function replaceRows(full: tf.Tensor4D, from: tf.Tensor4D, fromRows: readonly number[], positions: readonly number[]): tf.Tensor4D {
  const next = tf.tidy(() => scatterRows(full, gatherRows(from, fromRows), positions));
  full.dispose();
  return next;
}

/** Rows of a tensor at `positions`. */
export function gatherRows<T extends tf.Tensor>(t: T, positions: readonly number[]): T {
  return tf.tidy(() => tf.gather(t, tf.tensor1d(positions as number[], 'int32')) as T);
}

/**
 * The tensors a loop holds across iterations (iterate, gradient, best point, ...): `track` one,
 * `swap` one for its successor (disposing the old one), `release` the one handed out, and `dispose`
 * the rest in the loop's `finally`.
 */
export class LiveTensors {
  private readonly live: tf.Tensor[] = [];
  track<T extends tf.Tensor>(t: T): T {
    this.live.push(t);
    return t;
  }
  swap<T extends tf.Tensor>(old: T, next: T): T {
    const i = this.live.indexOf(old);
    if (i >= 0) this.live.splice(i, 1);
    if (old !== next) old.dispose();
    return this.track(next);
  }
  /** Stop tracking `t` (it is handed to the caller, who disposes it). */
  release<T extends tf.Tensor>(t: T): T {
    const i = this.live.indexOf(t);
    if (i >= 0) this.live.splice(i, 1);
    return t;
  }
  dispose(): void {
    for (const t of this.live.splice(0)) t.dispose();
  }
}
