/**
 * The conformance table of the wasm backend against the cpu backend: for every kernel the workloads
 * run, how its forward result is compared (and why that tolerance), and the one hand-written list of
 * known disagreements, each with what differs and why it cannot matter.
 *
 * A kernel the workloads run that is missing here fails the sweep, and so does an entry for a kernel
 * they no longer run. Gradients are all compared with GRADIENT_TOLERANCE.
 */

export type Tolerance =
  /** The same bits (any NaN equals any NaN; the sign of zero must match). */
  | { readonly kind: 'exact' }
  /** Element by element, within `ulps` units in the last place of the float32 reference. */
  | { readonly kind: 'ulp'; readonly ulps: number }
  /**
   * max |wasm − cpu| over the output ≤ `rel` · max(max |cpu|, smallest normal float32); the sign of a
   * zero is not compared (a sum that underflows to zero takes either sign, depending on the order).
   */
  | { readonly kind: 'norm'; readonly rel: number };

export interface KernelConformance {
  readonly forward: Tolerance;
  /** Why this tolerance. */
  readonly why: string;
}

/** One kind of disagreement the sweep may show, and which passes it is allowed in. */
export interface DocumentedDifference {
  readonly kernel: string;
  /** The passes (by name, see compare.ts `passesFor`) it shows in. */
  readonly passes: RegExp;
  /** What is not required in those passes: the values (the tolerance), which elements are NaN/±Inf, or the sign of zero. */
  readonly waives: readonly ('values' | 'nonFinite' | 'signedZero')[];
  readonly what: string;
  /** Why it cannot matter for the results of the project. */
  readonly why: string;
  /** Only the sweep of the full workloads (RUN_SLOW) has a signature that shows it. */
  readonly slowOnly?: boolean;
}

const MOVES = 'moves, selects, compares or counts values without arithmetic: the same bits on any backend';
const IEEE =
  'one IEEE-754 operation per element: +, −, ×, ÷ and √ of float32 operands are correctly rounded in float32 on wasm, and the cpu backend computes them in double and rounds once, which gives the same correctly rounded float32 (double has more than 2·24 + 2 bits)';
const REPLACED_MATH = 'the replacement kernel and the cpu backend both round Math.sin / Math.cos of the float32 value once: the same bits';
const NO_ROUNDING = 'exact in IEEE arithmetic (the result is representable, nothing is rounded)';
const ACCUMULATES =
  'sums K products or terms in float32 in another order than the cpu backend (XNNPACK blocks and SIMD lanes; cpu accumulates in double): the expected error is ~√K·2⁻²⁴ of the largest term, ≤ 2e-6 for the K ≤ 1000 here, bounded by K·2⁻²⁴; 1e-5 of the largest output leaves margin while a dropped or wrong term, a flush to zero or a misplaced element shows as ≥ 1e-3';
const FAITHFUL =
  'a library function on both sides (musl expf/logf/powf in the wasm build; the cpu backend rounds the double result of Math.exp/log/pow): both are faithfully rounded, so they are at most 1 ulp apart';

const exact: Tolerance = { kind: 'exact' };
const accumulation: Tolerance = { kind: 'norm', rel: 1e-5 };

/** Every kernel the workloads run on wasm. */
export const CONFORMANCE: Readonly<Record<string, KernelConformance>> = {
  Abs: { forward: exact, why: NO_ROUNDING },
  Add: { forward: exact, why: IEEE },
  AddN: {
    forward: exact,
    why: 'adds its inputs one after the other in float32 on both backends (the cpu backend accumulates in a Float32Array), in the same order',
  },
  ArgMax: { forward: exact, why: MOVES },
  BatchMatMul: { forward: accumulation, why: ACCUMULATES },
  Cast: { forward: exact, why: 'float32 → float32 is an alias, int32/bool → float32 is exact: ' + MOVES },
  ClipByValue: { forward: exact, why: MOVES },
  Concat: { forward: exact, why: MOVES },
  Conv2D: { forward: accumulation, why: ACCUMULATES },
  Conv2DBackpropFilter: { forward: accumulation, why: ACCUMULATES },
  Conv2DBackpropInput: { forward: accumulation, why: ACCUMULATES },
  Cos: { forward: exact, why: REPLACED_MATH },
  Equal: { forward: exact, why: MOVES },
  Exp: { forward: { kind: 'ulp', ulps: 1 }, why: FAITHFUL },
  Fill: { forward: exact, why: 'writes the attribute value rounded to float32: ' + MOVES },
  Floor: { forward: exact, why: NO_ROUNDING },
  GatherV2: { forward: exact, why: MOVES },
  GreaterEqual: { forward: exact, why: MOVES },
  Identity: { forward: exact, why: MOVES },
  LessEqual: { forward: exact, why: MOVES },
  Log: { forward: { kind: 'ulp', ulps: 1 }, why: FAITHFUL },
  LogicalAnd: { forward: exact, why: MOVES },
  Max: { forward: exact, why: 'a maximum is one of its inputs: ' + MOVES },
  MaxPool: { forward: exact, why: 'a maximum is one of its inputs: ' + MOVES },
  MaxPoolGrad: {
    forward: exact,
    why:
      'routes each dy to the first maximum of its window; the recorded windows do not overlap (filter = stride), so no element receives a sum: ' +
      MOVES,
  },
  Maximum: { forward: exact, why: MOVES },
  Mean: { forward: accumulation, why: ACCUMULATES },
  Minimum: { forward: exact, why: MOVES },
  Multiply: { forward: exact, why: IEEE },
  Neg: { forward: exact, why: NO_ROUNDING },
  OneHot: { forward: exact, why: MOVES },
  PadV2: { forward: exact, why: MOVES },
  Pow: { forward: { kind: 'ulp', ulps: 1 }, why: FAITHFUL },
  RealDiv: { forward: exact, why: IEEE },
  Relu: { forward: exact, why: MOVES },
  Reshape: { forward: exact, why: MOVES },
  Rsqrt: {
    forward: { kind: 'ulp', ulps: 2 },
    why: 'wasm computes 1/√x with two float32 roundings (≤ 1.5 ulp from the true value), the cpu backend rounds the double result once (≤ 0.5 ulp): at most 2 ulp apart',
  },
  Select: { forward: exact, why: MOVES },
  Sigmoid: {
    forward: { kind: 'ulp', ulps: 4 },
    why: "XNNPACK's sigmoid reduces the argument, evaluates exp by a degree-5 polynomial and divides, all in float32 (a few roundings of ≤ 0.5 ulp each); the cpu backend rounds the double result once",
  },
  Sign: { forward: exact, why: MOVES },
  Sin: { forward: exact, why: REPLACED_MATH },
  Slice: { forward: exact, why: MOVES },
  Softmax: {
    forward: { kind: 'ulp', ulps: 32 },
    why: "XNNPACK's softmax: exp by a polynomial (≤ 2 ulp), a float32 sum of K positive terms (relative error ≤ (K−1)·2⁻²⁴, K = 64 here: ≤ 32 ulp at worst, ~√K typically), a reciprocal and a product; the cpu backend subtracts the max, exponentiates, sums and divides in double",
  },
  SplitV: { forward: exact, why: MOVES },
  Sqrt: { forward: exact, why: IEEE },
  Square: { forward: exact, why: IEEE },
  SquaredDifference: {
    forward: { kind: 'ulp', ulps: 2 },
    why: 'wasm rounds a − b, then its square (≤ 1.5 ulp from the true value); the cpu backend rounds the double result once (≤ 0.5 ulp): at most 2 ulp apart',
  },
  Step: { forward: exact, why: MOVES },
  Sub: { forward: exact, why: IEEE },
  Sum: { forward: accumulation, why: ACCUMULATES },
  Tile: { forward: exact, why: MOVES },
  Transpose: { forward: exact, why: MOVES },
  ZerosLike: { forward: exact, why: MOVES },
};

/** Gradients: computed by other kernels (each in the table above when a workload uses it), including broadcast reductions. */
export const GRADIENT_TOLERANCE: Tolerance = { kind: 'norm', rel: 1e-5 };
export const GRADIENT_WHY =
  'the gradient is computed by other kernels, including the sums that reduce broadcast dimensions (in another order than the cpu backend): measured relative to the largest element, as for the accumulating kernels';

const CONV_INF =
  'the convolution on wasm (XNNPACK; and the replacement gradient kernels, which pad and insert zeros explicitly) multiplies the zero padding by the filter, so 0·∞ = NaN where the cpu backend, which skips padded positions, gives ±Inf or a finite value. PyTorch and TensorFlow pad explicitly and agree with wasm. Weights are finite in every model that trains or evaluates at all, and an infinite weight makes the outputs it reaches non-finite on both backends; NaN/Inf in the input x (activations) agree exactly';

/** The one hand-written list of known disagreements between the wasm and the cpu backend. */
export const DOCUMENTED: readonly DocumentedDifference[] = [
  {
    kernel: 'Conv2D',
    passes: /^filter NaN\/±Inf$/,
    waives: ['nonFinite'],
    what: 'with ±Inf in the filter, outputs whose window reaches the zero padding are NaN on wasm, ±Inf or finite on cpu',
    why: CONV_INF,
  },
  {
    kernel: 'Conv2DBackpropInput',
    passes: /^filter NaN\/±Inf$/,
    waives: ['nonFinite'],
    what: 'with ±Inf in the filter, input gradients that meet the padding or the zeros inserted for stride 2 are NaN on wasm, ±Inf or finite on cpu',
    why: CONV_INF,
  },
  {
    kernel: 'Conv2DBackpropFilter',
    passes: /^dy NaN\/±Inf$/,
    waives: ['nonFinite'],
    what: 'with ±Inf in dy (the filter of the convolution that computes this gradient), weight gradients that meet the padding are NaN on wasm, ±Inf or finite on cpu',
    why:
      'an infinite output gradient makes the weight gradient non-finite on both backends (the training step is lost either way). ' +
      CONV_INF,
  },
  {
    kernel: 'Pow',
    passes: /^grad a×1e\+30$/,
    waives: ['nonFinite'],
    slowOnly: true,
    what: 'with the base scaled to ~1e30, the gradient of a broadcast exponent, Σ dy·aᵇ·ln a over 1536 elements, has partial sums beyond the float32 range (3.4e38): the float32 sum on wasm overflows to the sign of a partial sum, the cpu backend sums in double and rounds the total',
    why: 'it needs terms near the float32 range limit; the exponents in the project are constants (norms, group-norm slopes) whose gradient is never used, and their bases are activations or pixel differences far below 1e30',
  },
];
