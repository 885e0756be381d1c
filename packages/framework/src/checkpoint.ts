/**
 * Gradients through long sequential chains (a purification loop) with per-step recompute.
 *
 * The forward pass keeps only each step's input; the backward pass recomputes one step at a time and
 * takes its vector-Jacobian product. Memory is O(steps x input size) plus one step's activations,
 * instead of O(steps x activations) for plain `tf.grad`. The gradient is exactly the plain one.
 *
 * A step must be a deterministic function of its input and its auxiliary tensors (pre-drawn noise):
 * draw random numbers before the chain and pass them as `aux`, and run networks in eval mode.
 */
import * as tf from '@tensorflow/tfjs-core';

/** One step of a chain: input x and this step's auxiliary tensors (e.g. its noise) to the next x. */
export type ChainStep<T extends tf.Tensor = tf.Tensor> = (x: T, index: number, aux: readonly tf.Tensor[]) => T;

interface EngineState {
  activeTape: unknown[] | null;
  gradientDepth: number;
  kernelDepth: number;
}
function engineState(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

/** True while a gradient tape is recording (we are inside tf.grad / tf.grads / variableGrads). */
export function isRecordingGradient(): boolean {
  const s = engineState();
  return s.gradientDepth > 0 && s.kernelDepth === 0;
}

/**
 * Vector-Jacobian product of one step: dL/dx given dL/dy, computed with a nested gradient. The engine
 * drops its active tape when a nested gradient finishes at depth 0; the outer tape is saved and
 * restored around the call so an enclosing tf.grad keeps working.
 */
export function stepVjp<T extends tf.Tensor>(f: (x: T) => T, x: T, dy: tf.Tensor): T {
  const state = engineState();
  const tape = state.activeTape;
  try {
    return tf.grad((xx: tf.Tensor) => f(xx as T))(x, dy) as T;
  } finally {
    state.activeTape = tape;
  }
}

/**
 * Run the chain x_{i+1} = step(x_i, i, aux[i]) for i = 0..n-1 and return x_n. Under a gradient tape
 * the chain is one custom-gradient node that stores only the step inputs and recomputes each step on
 * the way back; without a tape it is a plain forward loop, each step in its own tidy.
 */
export function checkpointedChain<T extends tf.Tensor>(
  x0: T,
  n: number,
  step: ChainStep<T>,
  aux: readonly (readonly tf.Tensor[])[] = [],
): T {
  if (!isRecordingGradient()) {
    let x = x0;
    for (let i = 0; i < n; i++) {
      const prev = x;
      x = tf.tidy(() => step(prev, i, aux[i] ?? []));
      if (prev !== x0) prev.dispose();
    }
    return (x === x0 ? x0.clone() : x) as T;
  }
  const auxFlat = aux.flatMap((a) => a);
  const auxCounts = aux.map((a) => a.length);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as T;
    const inputs: tf.Tensor[] = [];
    let x: T = input;
    for (let i = 0; i < n; i++) {
      inputs.push(x);
      const prev = x;
      x = tf.tidy(() => step(prev, i, aux[i] ?? []));
    }
    save([...inputs, ...auxFlat]);
    return {
      value: x,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const xs = saved.slice(0, n);
        const auxSaved: tf.Tensor[][] = [];
        let k = n;
        for (const c of auxCounts) {
          auxSaved.push(saved.slice(k, k + c));
          k += c;
        }
        let g: tf.Tensor = dy;
        for (let i = n - 1; i >= 0; i--) {
          const gi = g;
          g = tf.tidy(() => stepVjp((xx: T) => step(xx, i, auxSaved[i] ?? []), xs[i] as T, gi));
          if (gi !== dy) gi.dispose();
        }
        return [g];
      },
    };
  });
  // save() clones the step inputs and the aux tensors, so pre-drawn noise created inside an enclosing
  // tf.grad survives until the backward pass (the engine disposes the clones with the tape).
  return f(x0) as T;
}

/**
 * Loss and its gradient w.r.t. x0 through an n-step chain with per-step recompute, as an explicit
 * reverse loop (no tape pitfalls). `loss` maps x_n to a scalar. Intermediate tensors are disposed.
 */
export function chainValueAndGrad(
  x0: tf.Tensor,
  n: number,
  step: ChainStep,
  loss: (xn: tf.Tensor) => tf.Scalar,
  aux: readonly (readonly tf.Tensor[])[] = [],
): { value: number; grad: tf.Tensor } {
  const inputs: tf.Tensor[] = [];
  let x = x0;
  for (let i = 0; i < n; i++) {
    inputs.push(x);
    const prev = x;
    x = tf.tidy(() => step(prev, i, aux[i] ?? []));
  }
  const { value, grads } = tf.tidy(() => {
    const r = tf.valueAndGrads((xn: tf.Tensor) => loss(xn))([x]);
    return { value: r.value, grads: r.grads };
  });
  if (x !== x0) x.dispose();
  const v = value.dataSync()[0];
  value.dispose();
  let g = grads[0];
  for (let i = n - 1; i >= 0; i--) {
    const gi = g;
    g = tf.tidy(() => stepVjp((xx: tf.Tensor) => step(xx, i, aux[i] ?? []), inputs[i], gi));
    gi.dispose();
    if (inputs[i] !== x0) inputs[i].dispose();
  }
  return { value: v, grad: g };
}
