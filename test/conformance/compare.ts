/**
 * Replays recorded kernel calls on the active backend with generated inputs, and measures how far two
 * backends' results are apart. Inputs are generated from a seed (never stored), so the same call
 * gives the same inputs on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelCall, RecordedInput } from './record';

/** One way of filling the inputs of a recorded call, for its forward result or its gradient. */
export interface Pass {
  readonly name: string;
  readonly mode: 'forward' | 'gradient';
  /** The float input (index among all inputs) the edge values go into; the others stay random. */
  readonly input?: number;
  /** Multiply that input by this (1e-8 ... subnormal, 1e30). */
  readonly scale?: number;
  /** Put special values into every 5th element of that input: ±0, subnormals, ±1e-30 (`finite`), and NaN, ±Inf (`all`). */
  readonly specials?: 'all' | 'finite';
  /** Multiply the output cotangent by this (gradient passes). */
  readonly dyScale?: number;
}

export interface TensorResult {
  readonly shape: number[];
  readonly dtype: tf.DataType;
  readonly values: Float32Array | Int32Array | Uint8Array;
}
export interface Outcome {
  readonly outputs: TensorResult[];
  /** The message when the kernel (or its gradient) threw. */
  readonly error?: string;
}

/** The smallest positive float32 (a subnormal) and the smallest normal one. */
export const F32_MIN_SUBNORMAL = 2 ** -149;
export const F32_MIN_NORMAL = 2 ** -126;

/** Values that go into every 5th element of an input in a `specials` pass. */
export const SPECIAL_FINITE = [0, -0, F32_MIN_SUBNORMAL, -F32_MIN_SUBNORMAL, 1e-40, -1e-40, F32_MIN_NORMAL, -F32_MIN_NORMAL, 1e-30, -1e-30];
export const SPECIAL_NONFINITE = [NaN, Infinity, -Infinity];

/** The edge scales of `scale` passes. */
export const EDGE_SCALES = [1e-8, 1e-20, 1e-30, 1e-40, 1e30];

/** FNV-1a of a string (seeds). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Deterministic uniform values in [lo, hi) (an LCG; independent of any backend RNG). */
export function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return a;
}

/**
 * The range random values of a float input are drawn from: the recorded range (so inputs keep their
 * sign: the argument of a log stays positive); a constant c becomes [c/2, 3c/2], an all-zero input [-1, 1].
 */
export function inputRange(inp: RecordedInput): [number, number] {
  const lo = inp.min ?? -1;
  const hi = inp.max ?? 1;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [-1, 1];
  if (lo < hi) return [lo, hi];
  if (lo === 0) return [-1, 1];
  return lo > 0 ? [lo / 2, (3 * lo) / 2] : [(3 * lo) / 2, lo / 2];
}

function isFloat(dtype: tf.DataType): boolean {
  return dtype === 'float32';
}

/** The inputs of `call` for `pass` (the same on every backend). */
export function passInputs(call: KernelCall, sig: number, pass: Pass): (Float32Array | Int32Array | Uint8Array)[] {
  return call.inputs.map((inp, k) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    if (!isFloat(inp.dtype)) return inp.dtype === 'bool' ? Uint8Array.from(inp.values ?? []) : Int32Array.from(inp.values ?? []);
    const [lo, hi] = inputRange(inp);
    // Random values depend on the signature and input only: every pass starts from the same ones.
    const v = uniform(n, hash(`${call.kernel}|${sig}|${k}`), lo, hi);
    if (pass.input !== k) return v;
    if (pass.scale !== undefined) for (let i = 0; i < n; i++) v[i] *= pass.scale;
    if (pass.specials) {
      // Every 5th element, closer for small inputs, so that each special value occurs (NaN and ±Inf first).
      const sp = pass.specials === 'all' ? [...SPECIAL_NONFINITE, ...SPECIAL_FINITE] : SPECIAL_FINITE;
      const step = Math.max(1, Math.min(5, Math.floor(n / sp.length)));
      for (let i = 0, j = 0; i < n; i += step, j++) v[i] = sp[j % sp.length];
    }
    return v;
  });
}

/** Cotangent values for an output of `size` elements. */
function cotangent(call: KernelCall, sig: number, out: number, size: number, scale = 1): Float32Array {
  const v = uniform(size, hash(`${call.kernel}|${sig}|dy${out}`), -1, 1);
  if (scale !== 1) for (let i = 0; i < size; i++) v[i] *= scale;
  return v;
}

function cloneAttrs(a: Record<string, unknown>): tf.NamedAttrMap {
  return JSON.parse(
    JSON.stringify(a, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? `#${v}` : v)),
    (_k, v: unknown) => (typeof v === 'string' && v.startsWith('#') ? Number(v.slice(1)) : v),
  ) as tf.NamedAttrMap;
}

/** Run the kernel with named (or listed) inputs. */
function runKernel(call: KernelCall, ts: tf.Tensor[]): tf.Tensor[] {
  const inputs = call.list
    ? (ts as unknown as tf.NamedTensorMap)
    : (Object.fromEntries(call.inputs.map((inp, k) => [inp.name, ts[k]])) as tf.NamedTensorMap);
  const out = tf.engine().runKernel(call.kernel, inputs, cloneAttrs(call.attrs)) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out : [out];
}

function read(t: tf.Tensor): TensorResult {
  const v = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  return { shape: [...t.shape], dtype: t.dtype, values: v.slice() };
}

/** Whether the gradient of the kernel can be taken: a registered gradient, a float input and a float output. */
export function hasGradient(call: KernelCall): boolean {
  return tf.getGradient(call.kernel) !== undefined && call.inputs.some((i) => isFloat(i.dtype));
}

/** Run one pass of `call` on the active backend. */
export function runPass(call: KernelCall, sig: number, pass: Pass): Outcome {
  const values = passInputs(call, sig, pass);
  let result: Outcome = { outputs: [] };
  try {
    tf.tidy(() => {
      const ts = call.inputs.map((inp, k) => tf.tensor(values[k], inp.shape, inp.dtype));
      if (pass.mode === 'forward') {
        result = { outputs: runKernel(call, ts).map(read) };
        return;
      }
      // The registered gradient function, called as the engine's backprop calls it (saved inputs and
      // outputs as its config asks, a cotangent per float output, zeros for the others): no tape, so
      // a gradient that tfjs-core would refuse (a broadcast it does not reduce) cannot leak tensors.
      const grad = tf.getGradient(call.kernel);
      if (!grad) throw new Error(`no gradient registered for ${call.kernel}`);
      const attrs = cloneAttrs(call.attrs);
      const named = call.inputs.map((inp, k) => (call.list ? String(k) : inp.name));
      const byName = Object.fromEntries(named.map((n, k) => [n, ts[k]]));
      const outs = runKernel(call, ts);
      const saved = [
        ...(grad.saveAllInputs ? ts : (grad.inputsToSave ?? []).map((n) => byName[n])),
        ...outs.filter((_, j) => grad.outputsToSave?.[j]),
      ];
      const dys = outs.map((o, j) =>
        isFloat(o.dtype) ? tf.tensor(cotangent(call, sig, j, o.size, pass.dyScale), o.shape) : tf.zeros(o.shape, o.dtype),
      );
      const fns = grad.gradFunc(dys.length === 1 ? dys[0] : dys, saved, attrs);
      const grads = call.inputs
        .map((inp, k) => (isFloat(inp.dtype) ? k : -1))
        .filter((k) => k >= 0)
        .map((k) => {
          const fn = fns[named[k]];
          if (!fn) throw new Error(`the gradient of ${call.kernel} gives nothing for input '${named[k]}'`);
          return fn();
        });
      result = { outputs: grads.map(read) };
    });
  } catch (e) {
    result = { outputs: [], error: (e as Error).message };
  }
  return result;
}

/** The passes of a call: forward random, edge scales and special values per float input; gradient random, scaled. */
export function passesFor(call: KernelCall, opts: { nonFinite: boolean; gradient: boolean; maxEdgeInputs?: number }): Pass[] {
  const floats = call.inputs
    .map((inp, k) => (isFloat(inp.dtype) ? k : -1))
    .filter((k) => k >= 0)
    .slice(0, opts.maxEdgeInputs ?? 3);
  const ps: Pass[] = [{ name: 'random', mode: 'forward' }];
  for (const k of floats) {
    const nm = call.inputs[k].name;
    for (const s of EDGE_SCALES) ps.push({ name: `${nm}×${s}`, mode: 'forward', input: k, scale: s });
    ps.push({ name: `${nm} ±0/subnormal`, mode: 'forward', input: k, specials: 'finite' });
    if (opts.nonFinite) ps.push({ name: `${nm} NaN/±Inf`, mode: 'forward', input: k, specials: 'all' });
  }
  if (opts.gradient && hasGradient(call)) {
    ps.push({ name: 'grad random', mode: 'gradient' });
    ps.push({ name: 'grad dy×1e-30', mode: 'gradient', dyScale: 1e-30 });
    for (const k of floats) {
      const nm = call.inputs[k].name;
      for (const s of [1e-20, 1e30]) ps.push({ name: `grad ${nm}×${s}`, mode: 'gradient', input: k, scale: s });
    }
  }
  return ps;
}

/** How far a result is from the reference, element by element. */
export interface Difference {
  /** Shapes, dtypes or output counts differ, or exactly one side threw (a description). */
  readonly structural?: string;
  /** Elements where exactly one side is NaN, or where an infinity differs. */
  readonly nonFinite: number;
  /** Elements equal in value but not in the sign of zero. */
  readonly signedZero: number;
  /** Largest |a - b| over elements finite on both sides. */
  readonly maxAbs: number;
  /** Largest |b| over finite elements of the reference. */
  readonly maxRef: number;
  /**
   * maxAbs / max(maxRef, smallest normal float32). Below the smallest normal, float32 has no relative
   * precision to speak of (a subnormal has fewer significant bits), so errors there are measured
   * against the smallest normal: a flush to zero still shows (~1e-2 for 1e-40), a rounding does not.
   */
  readonly norm: number;
  /** Largest |a - b| in units in the last place of b (float32). */
  readonly ulp: number;
  /** Elements that differ at all. */
  readonly count: number;
  /** The element of largest ulp error, and the first element NaN/±Inf on one side only, for messages. */
  readonly worst?: { output: number; index: number; got: number; want: number };
  readonly firstNonFinite?: { output: number; index: number; got: number; want: number };
}

/** The float32 ulp at |x| (the spacing of float32 values there). */
export function ulpOf(x: number): number {
  const a = Math.abs(x);
  if (a < F32_MIN_NORMAL) return F32_MIN_SUBNORMAL;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

export function difference(got: Outcome, want: Outcome): Difference {
  const zero = { nonFinite: 0, signedZero: 0, maxAbs: 0, maxRef: 0, norm: 0, ulp: 0, count: 0 };
  if (got.error !== undefined || want.error !== undefined) {
    if (got.error !== undefined && want.error !== undefined) return zero;
    return { ...zero, structural: got.error !== undefined ? `threw: ${got.error}` : `the reference threw (${want.error}) but it did not` };
  }
  if (got.outputs.length !== want.outputs.length)
    return { ...zero, structural: `${got.outputs.length} outputs, reference ${want.outputs.length}` };
  let nonFinite = 0;
  let signedZero = 0;
  let maxAbs = 0;
  let maxRef = 0;
  let ulp = 0;
  let count = 0;
  let worst: Difference['worst'];
  let firstNonFinite: Difference['worst'];
  for (let o = 0; o < got.outputs.length; o++) {
    const a = got.outputs[o];
    const b = want.outputs[o];
    if (a.dtype !== b.dtype || a.shape.join() !== b.shape.join()) {
      return { ...zero, structural: `output ${o}: ${a.dtype} [${a.shape.join(',')}], reference ${b.dtype} [${b.shape.join(',')}]` };
    }
    for (let i = 0; i < b.values.length; i++) {
      const x = a.values[i];
      const y = b.values[i];
      if (Object.is(x, y)) {
        if (Number.isFinite(y)) maxRef = Math.max(maxRef, Math.abs(y));
        continue;
      }
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      count++;
      if (!Number.isFinite(x) || !Number.isFinite(y)) {
        nonFinite++;
        firstNonFinite ??= { output: o, index: i, got: x, want: y };
        continue;
      }
      maxRef = Math.max(maxRef, Math.abs(y));
      if (x === y) {
        signedZero++;
        continue;
      }
      const d = Math.abs(x - y);
      maxAbs = Math.max(maxAbs, d);
      const u = d / ulpOf(y);
      if (u > ulp) {
        ulp = u;
        worst = { output: o, index: i, got: x, want: y };
      }
    }
  }
  return { nonFinite, signedZero, maxAbs, maxRef, norm: maxAbs / Math.max(maxRef, F32_MIN_NORMAL), ulp, count, worst, firstNonFinite };
}
