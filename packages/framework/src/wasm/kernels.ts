/**
 * Replacement and missing gradient-time kernels for the wasm backend (docs/PERFORMANCE.md item 2).
 *
 * Each kernel is a JS `kernelFunc` composed from the backend's own fast kernels (XNNPACK convolution,
 * fully-connected and transpose), registered with `tf.registerKernel` for backend 'wasm' so that every
 * caller benefits (plain ops, `tf.fused`, `tf.layers`), unlike `tf.registerGradient`:
 *
 * - `Conv2DBackpropInput`: a forward convolution of dy with the filter flipped spatially and with its
 *   in/out channels swapped (explicit padding `k-1-pad`); for strides > 1, zeros are first inserted
 *   between the rows and columns of dy. The flipped filter is cached per weight buffer, so the
 *   backend's convolution operator (with its packed weights) is reused across calls.
 * - `Conv2DBackpropFilter` (not registered by the package): one forward convolution of the input,
 *   transposed to [inC, H, W, batch], with dy, transposed to [outH, outW, batch, outC], as the filter
 *   and the stride as the dilation; the [inC, kh, kw, outC] result is transposed to the filter layout.
 * - `BatchMatMul`: explicit transposes and per-batch 2-D products on zero-copy views, so every product
 *   reaches XNNPACK's fully-connected path instead of the naive loop used for transposed or batched
 *   operands.
 * - `Identity`: a zero-copy, reference-counted alias (as the cpu backend does) instead of a copy of
 *   every tensor that `tf.grad` saves.
 * - `DepthwiseConv2dNativeBackpropInput` / `DepthwiseConv2dNativeBackpropFilter` (neither registered by
 *   the package, so no depthwise convolution could be differentiated on wasm): the input gradient of a
 *   channel-multiplier-1 depthwise convolution is a forward depthwise convolution of dy (zeros
 *   inserted for strides > 1) with the spatially flipped filter; other cases, and the filter gradient,
 *   are direct loops over the heap (as many multiply-adds as the forward pass).
 * - `MaxPoolGrad`: the package's kernel is wrong for windows whose values are all negative.
 * - `UnsortedSegmentSum` (not registered by the package; the gradient of `tf.gather`).
 * - `Mean` / `Sum` over consecutive axes with at least two kept elements after them: one XNNPACK
 *   average pooling (the package transposes the whole tensor first).
 * - `Slice` / `SplitV` / `Concat` of float32 and int32: `copyWithin` of whole contiguous runs (the
 *   package copies element by element in JS).
 * - `Cast` to the dtype the tensor already has: a zero-copy alias (the package copies).
 * - `Sign`: the package's kernel returns 0 for |x| below about 1e-7 (so an l_inf attack step on a
 *   confidently classified sample, whose input gradient is tiny, moves nothing); replaced by an exact
 *   loop: 1 for x > 0, -1 for x < 0, 0 for ±0 and NaN (as the cpu backend).
 * - `ClipByValue`, `Maximum`, `Minimum` (float32): the package's XNNPACK kernels return a bound or the
 *   other operand for NaN (so a NaN purification or step turned into a plausible image); replaced by
 *   exact loops that propagate NaN (as the cpu backend, TensorFlow and PyTorch).
 * - `Sin` / `Cos` (float32): the package's kernels have an absolute error of ~1e-16 (sin x = 0 for
 *   |x| < 1e-16, where sin x = x) and lose all accuracy beyond |x| ~ 1e10; replaced by `Math.sin` /
 *   `Math.cos` of each element, rounded to float32, as the cpu backend.
 * - `MaxPool` of an input that holds a NaN: the package's kernel gives -Infinity for its windows; the
 *   pooling is then done as the cpu backend does it (NaN never wins). Without NaN: the package's kernel.
 * - `Mean` / `Sum` through average pooling: XNNPACK's pooling clamps its output and turns NaN into
 *   -Infinity, and loses the bits of subnormal averages; those values are recomputed exactly.
 *
 * Everything here relies on internals of @tensorflow/tfjs-backend-wasm 4.22.0 (`dataIdMap`,
 * `makeOutput`, the C++ `BatchMatMul` entry point), which `checkPinnedVersions` guards.
 * Only float32 NHWC tensors take the fast paths; other cases fall back to the package's kernels.
 */
import * as tf from '@tensorflow/tfjs-core';

type TI = tf.TensorInfo;
type Shape = number[];

interface WasmData {
  id: number;
  memoryOffset: number;
  shape: Shape;
  dtype: tf.DataType;
  refCount: number;
}
/** The internals of the 4.22.0 `BackendWasm` used by these kernels. */
interface WasmBackend {
  wasm: {
    HEAPU8: Uint8Array;
    cwrap(name: string, ret: string | null, args: string[]): (...a: unknown[]) => unknown;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
  dataIdMap: {
    get(d: tf.DataId): WasmData;
    has(d: tf.DataId): boolean;
    set(d: tf.DataId, v: WasmData): void;
    delete(d: tf.DataId): boolean;
  };
  dataIdNextNumber: number;
  makeOutput(shape: Shape, dtype: tf.DataType, memoryOffset?: number): TI;
  disposeData(d: tf.DataId, force?: boolean): boolean;
  incRef(d: tf.DataId): void;
}
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** The kernels this module replaces or adds, in registration order. */
export const WASM_KERNEL_NAMES = [
  'Identity',
  'Cast',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
  'BatchMatMul',
  'MaxPoolGrad',
  'UnsortedSegmentSum',
  'Mean',
  'Sum',
  'Slice',
  'SplitV',
  'Concat',
  'Sign',
  'ClipByValue',
  'Maximum',
  'Minimum',
  'Sin',
  'Cos',
  'MaxPool',
] as const;

/** The package's own kernels, captured before they are replaced (fallbacks for unsupported cases). */
const stock = new Map<string, tf.KernelConfig>();

function wb(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Run the kernel currently registered for wasm under `name`. */
function run(name: string, backend: WasmBackend, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown> = {}): TI {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  return k.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as TI;
}

function runStock(name: string, args: KernelArgs): TI {
  const k = stock.get(name);
  if (!k) throw new Error(`the wasm backend has no ${name} kernel for this case`);
  return k.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TI;
}

function free(backend: WasmBackend, t: TI): void {
  backend.disposeData(t.dataId);
}

/** A TensorInfo with another shape over the same buffer (for passing to kernels; never disposed). */
function reshaped(t: TI, shape: Shape): TI {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** The whole wasm heap as float32 (take it after the last allocation: the heap may grow). */
function heapF32(backend: WasmBackend): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer);
}
function offsetF32(backend: WasmBackend, t: TI): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
}

/** A zero-copy view of `base` with `shape`, starting at element `offset`, registered under its own tensor id. */
function makeView(backend: WasmBackend, base: TI, offset: number, shape: Shape): TI {
  const data = backend.dataIdMap.get(base.dataId);
  const id = backend.dataIdNextNumber++;
  const dataId = { id };
  const memoryOffset = data.memoryOffset + offset * 4;
  backend.dataIdMap.set(dataId, { id, memoryOffset, shape, dtype: base.dtype, refCount: 1 });
  backend.wasm.tfjs.registerTensor(id, tf.util.sizeFromShape(shape), memoryOffset);
  return { dataId, shape, dtype: base.dtype };
}
/** Unregister a view without freeing the memory it points into. */
function dropView(backend: WasmBackend, view: TI): void {
  const data = backend.dataIdMap.get(view.dataId);
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

function convAttrs(pad: [number, number, number, number], dilations: [number, number] = [1, 1]): Record<string, unknown> {
  const [t, b, l, r] = pad;
  return {
    strides: [1, 1],
    pad: [
      [0, 0],
      [t, b],
      [l, r],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations,
    dimRoundingMode: undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Identity

function identity(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  if (x.dtype === 'string') return runStock('Identity', args);
  wb(args.backend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast to the dtype the tensor already has (every gradient of Mul and Square asks for one): an alias, not a JS copy. */
function cast(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') return runStock('Cast', args);
  return identity(args);
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropInput

interface FlipEntry {
  backend: WasmBackend;
  src: tf.DataId;
  shape: string;
  out: TI;
  bytes: number;
}
/** Flipped filters keyed by the weight buffer they were made from (insertion order = LRU order). */
const flipCache = new Map<tf.DataId, FlipEntry>();
let flipCacheBytes = 0;
/** Upper bound on the memory of cached flipped filters (the least recently used are dropped first). */
export const FLIP_CACHE_MAX_BYTES = 512 * 1024 * 1024;

function dropFlip(key: tf.DataId, e: FlipEntry): void {
  flipCache.delete(key);
  flipCacheBytes -= e.bytes;
  if (e.backend.dataIdMap.has(e.out.dataId)) free(e.backend, e.out);
}

/** Free flipped filters whose weight buffer is gone (disposed, or moved to another backend). */
function sweepFlipCache(): void {
  for (const [key, e] of flipCache) if (!e.backend.dataIdMap.has(e.src)) dropFlip(key, e);
}

/** Free every cached flipped filter (e.g. before measuring memory). Returns how many were freed. */
export function clearWasmKernelCaches(): number {
  const n = flipCache.size;
  for (const [key, e] of flipCache) dropFlip(key, e);
  return n;
}

/** Number of flipped filters currently cached (for tests and diagnostics). */
export function wasmKernelCacheSize(): number {
  sweepFlipCache();
  return flipCache.size;
}

/** filter [kh, kw, inC, outC] -> [kh, kw, outC, inC] with both spatial axes reversed. */
function flippedFilter(backend: WasmBackend, filter: TI): TI {
  sweepFlipCache();
  const shapeKey = filter.shape.join(',');
  const hit = flipCache.get(filter.dataId);
  if (hit && hit.backend === backend && hit.shape === shapeKey) {
    flipCache.delete(filter.dataId);
    flipCache.set(filter.dataId, hit);
    return hit.out;
  }
  if (hit) dropFlip(filter.dataId, hit);
  const [kh, kw, ci, co] = filter.shape;
  const k = kh * kw;
  // Swap channels with the package's (XNNPACK) transpose, then reverse the order of the kh*kw blocks:
  // block i*kw+j goes to (kh-1-i)*kw+(kw-1-j) = k-1-(i*kw+j). No Reverse kernel (slow on wasm).
  const t = run('Transpose', backend, { x: reshaped(filter, [k, ci, co]) }, { perm: [0, 2, 1] });
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const heap = heapF32(backend);
  const src = offsetF32(backend, t);
  const dst = offsetF32(backend, out);
  const blk = ci * co;
  for (let b = 0; b < k; b++) heap.copyWithin(dst + (k - 1 - b) * blk, src + b * blk, src + (b + 1) * blk);
  free(backend, t);
  const entry: FlipEntry = { backend, src: filter.dataId, shape: shapeKey, out, bytes: k * blk * 4 };
  flipCache.set(filter.dataId, entry);
  flipCacheBytes += entry.bytes;
  for (const [key, e] of flipCache) {
    if (flipCacheBytes <= FLIP_CACHE_MAX_BYTES || key === filter.dataId) break;
    dropFlip(key, e);
  }
  return out;
}

/** dy [n, h, w, c] -> [n, (h-1)*sh+1, (w-1)*sw+1, c] with dy at every sh-th row and sw-th column, zeros elsewhere. */
function insertZeros(backend: WasmBackend, dy: TI, sh: number, sw: number): TI {
  const [n, h, w, c] = dy.shape;
  const lh = (h - 1) * sh + 1;
  const lw = (w - 1) * sw + 1;
  const { out, heap, start: dst } = zeroedOutput(backend, [n, lh, lw, c]);
  const src = offsetF32(backend, dy);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      let s = src + ((b * h + y) * w) * c;
      let d = dst + ((b * lh + y * sh) * lw) * c;
      for (let x = 0; x < w; x++, s += c, d += sw * c) heap.copyWithin(d, s, s + c);
    }
  }
  return out;
}

function conv2DBackpropInput(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const dy = args.inputs.dy as TI;
  const filter = args.inputs.filter as TI;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (info.dataFormat !== 'channelsLast' || dy.dtype !== 'float32' || filter.dtype !== 'float32') return runStock('Conv2DBackpropInput', args);
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const lh = (oh - 1) * sh + 1;
  const lw = (ow - 1) * sw + 1;
  const pt = kh - 1 - info.padInfo.top;
  const pl = kw - 1 - info.padInfo.left;
  const pb = h + info.padInfo.top - lh;
  const pr = w + info.padInfo.left - lw;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return runStock('Conv2DBackpropInput', args);
  const wf = flippedFilter(backend, filter);
  const src = sh > 1 || sw > 1 ? insertZeros(backend, dy, sh, sw) : dy;
  try {
    return run('Conv2D', backend, { x: src, filter: wf }, convAttrs([pt, pb, pl, pr]));
  } finally {
    if (src !== dy) free(backend, src);
  }
}

// ---------------------------------------------------------------------------------------------
// Conv2DBackpropFilter

function conv2DBackpropFilter(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const dy = args.inputs.dy as TI;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (info.dataFormat !== 'channelsLast') {
    throw new Error(`Conv2DBackpropFilter on wasm supports dataFormat 'NHWC' only (got '${dataFormat}'), like the wasm Conv2D`);
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`Conv2DBackpropFilter on wasm needs float32 tensors (got ${x.dtype}, ${dy.dtype})`);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  // The result [ci, kh, kw, co] must have spatial size exactly kh x kw: pad (or crop) the bottom/right.
  let pb = kh + (oh - 1) * sh - h - top;
  let pr = kw + (ow - 1) * sw - w - left;
  const temps: TI[] = [];
  try {
    let xx = x;
    if (pb < 0 || pr < 0) {
      xx = run('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [n, h + Math.min(pb, 0), w + Math.min(pr, 0), ci] });
      temps.push(xx);
      pb = Math.max(pb, 0);
      pr = Math.max(pr, 0);
    }
    const xt = run('Transpose', backend, { x: xx }, { perm: [3, 1, 2, 0] }); // [ci, h, w, n]
    temps.push(xt);
    const dyt = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, n, co]
    temps.push(dyt);
    const r = run('Conv2D', backend, { x: xt, filter: dyt }, convAttrs([top, pb, left, pr], [sh, sw])); // [ci, kh, kw, co]
    temps.push(r);
    return run('Transpose', backend, { x: r }, { perm: [1, 2, 0, 3] });
  } finally {
    for (const t of temps) free(backend, t);
  }
}

// ---------------------------------------------------------------------------------------------
// DepthwiseConv2dNativeBackpropInput / DepthwiseConv2dNativeBackpropFilter
//
// Filter [kh, kw, ci, m]; output channel c*m + j is input channel c convolved with filter[:, :, c, j].

function depthwiseInfo(xShape: Shape, filterShape: Shape, attrs: tf.DepthwiseConv2dNativeBackpropInputAttrs | tf.DepthwiseConv2dNativeBackpropFilterAttrs): tf.backend_util.Conv2DInfo {
  const dilations = attrs.dilations == null ? 1 : attrs.dilations;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/**
 * The heap loop shared by both depthwise gradients: calls `f(xOff, dyOff, fOff)` with the element
 * offsets (relative to the tensors' starts, in float32 units) of every (input pixel, output pixel,
 * filter tap) triple of the convolution, for channel 0 and multiplier 0; the callee loops over the
 * channels (contiguous in NHWC) itself.
 */
function forEachTap(info: tf.backend_util.Conv2DInfo, f: (xOff: number, dyOff: number, fOff: number) => void): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co, filterHeight: kh, filterWidth: kw } = info;
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const dyOff = ((b * oh + oy) * ow + ox) * co;
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i * dh - top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j * dw - left;
            if (ix < 0 || ix >= w) continue;
            f(((b * h + iy) * w + ix) * ci, dyOff, (i * kw + j) * co);
          }
        }
      }
    }
  }
}

/** A new float32 output filled with zeros, the heap view (taken after the allocation) and its start element. */
function zeroedOutput(backend: WasmBackend, shape: Shape): { out: TI; heap: Float32Array; start: number } {
  const out = backend.makeOutput(shape, 'float32');
  const heap = heapF32(backend);
  const start = offsetF32(backend, out);
  heap.fill(0, start, start + tf.util.sizeFromShape(shape));
  return { out, heap, start };
}

function depthwiseBackpropInput(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const dy = args.inputs.dy as TI;
  const filter = args.inputs.filter as TI;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32') throw new Error(`DepthwiseConv2dNativeBackpropInput on wasm needs float32 tensors (got ${dy.dtype}, ${filter.dtype})`);
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const mult = info.outChannels / ci;
  const lh = (oh - 1) * sh + 1;
  const lw = (ow - 1) * sw + 1;
  const pt = kh - 1 - info.padInfo.top;
  const pl = kw - 1 - info.padInfo.left;
  const pb = h + info.padInfo.top - lh;
  const pr = w + info.padInfo.left - lw;
  if (mult === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 && pt >= 0 && pl >= 0 && pb >= 0 && pr >= 0) {
    // [kh, kw, ci, 1] has the memory order of [kh, kw, 1, ci]: the conv flip (blocks reversed, in/out
    // swapped) is exactly the spatial flip a depthwise filter needs.
    const wf = flippedFilter(backend, filter);
    const src = sh > 1 || sw > 1 ? insertZeros(backend, dy, sh, sw) : dy;
    try {
      return run('DepthwiseConv2dNative', backend, { x: src, filter: reshaped(wf, [kh, kw, ci, 1]) }, convAttrs([pt, pb, pl, pr]));
    } finally {
      if (src !== dy) free(backend, src);
    }
  }
  const { out, heap, start: dx0 } = zeroedOutput(backend, attrs.inputShape);
  const dy0 = offsetF32(backend, dy);
  const f0 = offsetF32(backend, filter);
  forEachTap(info, (xOff, dyOff, fOff) => {
    for (let c = 0; c < ci; c++) {
      let acc = 0;
      for (let m = 0; m < mult; m++) acc += heap[dy0 + dyOff + c * mult + m] * heap[f0 + fOff + c * mult + m];
      heap[dx0 + xOff + c] += acc;
    }
  });
  return out;
}

function depthwiseBackpropFilter(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const dy = args.inputs.dy as TI;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`DepthwiseConv2dNativeBackpropFilter on wasm needs float32 tensors (got ${x.dtype}, ${dy.dtype})`);
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const ci = info.inChannels;
  const mult = info.outChannels / ci;
  const { out, heap, start: df0 } = zeroedOutput(backend, attrs.filterShape);
  const x0 = offsetF32(backend, x);
  const dy0 = offsetF32(backend, dy);
  forEachTap(info, (xOff, dyOff, fOff) => {
    for (let c = 0; c < ci; c++) {
      const xv = heap[x0 + xOff + c];
      for (let m = 0; m < mult; m++) heap[df0 + fOff + c * mult + m] += xv * heap[dy0 + dyOff + c * mult + m];
    }
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// BatchMatMul

type MatMulFn = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: number, tb: number, outId: number) => void;
const matMulFns = new WeakMap<object, MatMulFn>();
function matMulFn(backend: WasmBackend): MatMulFn {
  let f = matMulFns.get(backend);
  if (!f) {
    f = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as MatMulFn;
    matMulFns.set(backend, f);
  }
  return f;
}
function shapeBytes(shape: Shape): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/** out[1, m, n] = a[1, m, k] x b[1, k, n] through XNNPACK's fully-connected path (b packed as weights). */
function matMul2d(backend: WasmBackend, a: TI, b: TI, out: TI, m: number, k: number, n: number): void {
  const id = (t: TI) => backend.dataIdMap.get(t.dataId).id;
  matMulFn(backend)(id(a), shapeBytes([1, m, k]), 3, id(b), shapeBytes([1, k, n]), 3, 0, 0, id(out));
}

function batchMatMul(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const a = args.inputs.a as TI;
  const b = args.inputs.b as TI;
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return runStock('BatchMatMul', args);
  const ar = a.shape.length;
  const br = b.shape.length;
  const m = transposeA ? a.shape[ar - 1] : a.shape[ar - 2];
  const ka = transposeA ? a.shape[ar - 2] : a.shape[ar - 1];
  const kb = transposeB ? b.shape[br - 1] : b.shape[br - 2];
  const n = transposeB ? b.shape[br - 2] : b.shape[br - 1];
  tf.util.assert(
    ka === kb,
    () => `Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
  );
  const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = tf.util.sizeFromShape(outer);
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  const broadcastOk = (batchA === batch || batchA === 1) && (batchB === batch || batchB === 1);
  if (!broadcastOk || m * ka * n === 0) return runStock('BatchMatMul', args);
  const k = ka;
  const temps: TI[] = [];
  try {
    // Bring both operands to [batch, m, k] and [batch, k, n] row-major.
    let A = reshaped(a, transposeA ? [batchA, k, m] : [batchA, m, k]);
    if (transposeA) temps.push((A = run('Transpose', backend, { x: A }, { perm: [0, 2, 1] })));
    let B = reshaped(b, transposeB ? [batchB, n, k] : [batchB, k, n]);
    if (transposeB) temps.push((B = run('Transpose', backend, { x: B }, { perm: [0, 2, 1] })));
    const out = backend.makeOutput([batch, m, n], 'float32');
    if (batchB === 1) {
      // One product: the batch of A folds into its rows.
      matMul2d(backend, A, B, out, batchA * m, k, n);
    } else {
      for (let i = 0; i < batch; i++) {
        const av = makeView(backend, A, batchA === 1 ? 0 : i * m * k, [1, m, k]);
        const bv = makeView(backend, B, i * k * n, [1, k, n]);
        const ov = makeView(backend, out, i * m * n, [1, m, n]);
        try {
          matMul2d(backend, av, bv, ov, m, k, n);
        } finally {
          dropView(backend, av);
          dropView(backend, bv);
          dropView(backend, ov);
        }
      }
    }
    return { dataId: out.dataId, shape: [...outer, m, n], dtype: 'float32' };
  } finally {
    for (const t of temps) free(backend, t);
  }
}

// ---------------------------------------------------------------------------------------------
// MaxPoolGrad

/**
 * The package's MaxPoolGrad starts each window's maximum at `numeric_limits<float>::min()` (the
 * smallest positive float), so a window whose values are all negative sends its gradient to the wrong
 * element. This one takes the first maximum of each window in row-major order, as TensorFlow and the
 * cpu backend do; padding never wins.
 */
function maxPoolGrad(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const dy = args.inputs.dy as TI;
  const input = args.inputs.input as TI;
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const dx = backend.makeOutput(input.shape, 'float32');
  const heap = heapF32(backend);
  const xo = offsetF32(backend, input);
  const dyo = offsetF32(backend, dy);
  const dxo = offsetF32(backend, dx);
  heap.fill(0, dxo, dxo + n * h * w * c);
  const best = new Float32Array(c);
  const pos = new Int32Array(c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        best.fill(-Infinity);
        pos.fill(-1);
        for (let fy = 0; fy < fh; fy += dh) {
          const y = y0 + fy;
          if (y < 0 || y >= h) continue;
          for (let fx = 0; fx < fw; fx += dw) {
            const x = x0 + fx;
            if (x < 0 || x >= w) continue;
            const base = ((b * h + y) * w + x) * c;
            for (let k = 0; k < c; k++) {
              const v = heap[xo + base + k];
              if (v > best[k] || (pos[k] < 0 && v === best[k])) {
                best[k] = v;
                pos[k] = base + k;
              }
            }
          }
        }
        const g = dyo + ((b * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) if (pos[k] >= 0) heap[dxo + pos[k]] += heap[g + k];
      }
    }
  }
  return dx;
}

/**
 * MaxPool: the package's (XNNPACK) kernel gives -Infinity for a window that holds a NaN (its maximum
 * propagates the NaN, then its output clamp turns it into -Infinity). When the input holds a NaN, the
 * pooling is done here as the cpu backend does it: the maximum of the window's other values (NaN
 * never wins a comparison), -Infinity when there are none; MaxPoolGrad above routes dy the same way.
 */
function maxPool(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock('MaxPool', args);
  const size = tf.util.sizeFromShape(x.shape);
  let heap = heapF32(backend);
  let xo = offsetF32(backend, x);
  let nan = false;
  for (let i = xo, end = xo + size; i < end && !nan; i++) nan = heap[i] !== heap[i];
  if (!nan) return runStock('MaxPool', args);
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw, effectiveFilterHeight: fh, effectiveFilterWidth: fw } = info;
  const out = backend.makeOutput(info.outShape, 'float32');
  heap = heapF32(backend);
  xo = offsetF32(backend, x);
  const oo = offsetF32(backend, out);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - info.padInfo.top;
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - info.padInfo.left;
        const o = oo + ((b * oh + oy) * ow + ox) * c;
        for (let k = 0; k < c; k++) heap[o + k] = -Infinity;
        for (let fy = 0; fy < fh; fy += dh) {
          const y = y0 + fy;
          if (y < 0 || y >= h) continue;
          for (let fx = 0; fx < fw; fx += dw) {
            const xx = x0 + fx;
            if (xx < 0 || xx >= w) continue;
            const base = xo + ((b * h + y) * w + xx) * c;
            for (let k = 0; k < c; k++) if (heap[base + k] > heap[o + k]) heap[o + k] = heap[base + k];
          }
        }
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// UnsortedSegmentSum

function unsortedSegmentSum(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const ids = args.inputs.segmentIds as TI;
  const { numSegments } = args.attrs as unknown as tf.UnsortedSegmentSumAttrs;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32 (got ${x.dtype})`);
  const innerShape = x.shape.slice(ids.shape.length);
  const inner = tf.util.sizeFromShape(innerShape);
  const count = tf.util.sizeFromShape(ids.shape);
  const out = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  const buf = backend.wasm.HEAPU8.buffer;
  const view = (t: TI, size: number) =>
    t.dtype === 'int32' ? new Int32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, size) : new Float32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, size);
  const o = view(out, numSegments * inner);
  const xs = view(x, count * inner);
  const seg = new Int32Array(buf, backend.dataIdMap.get(ids.dataId).memoryOffset, count);
  o.fill(0);
  for (let i = 0; i < count; i++) {
    const s = seg[i];
    if (s < 0 || s >= numSegments) continue; // as TensorFlow: out-of-range ids are dropped
    const d = s * inner;
    const src = i * inner;
    for (let j = 0; j < inner; j++) o[d + j] += xs[src + j];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sign: exact for every float, subnormals included (the package's kernel flushes |x| < ~1e-7 to 0).

function sign(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return runStock('Sign', args);
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, x.dtype);
  const buf = backend.wasm.HEAPU8.buffer;
  const view = (t: TI) => (x.dtype === 'int32' ? new Int32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, n) : new Float32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, n));
  const xs = view(x);
  const o = view(out);
  for (let i = 0; i < n; i++) {
    const v = xs[i];
    o[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ClipByValue / Maximum / Minimum of float32: exact loops that propagate NaN. The package's kernels
// (XNNPACK clamp, max, min) return the bound or the other operand for NaN. Sin / Cos of float32:
// the package's kernels are inaccurate for |x| < 1e-16 (sin x = 0) and |x| > 1e10.

function clipByValue(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock('ClipByValue', args);
  const { clipValueMin: lo, clipValueMax: hi } = args.attrs as unknown as tf.ClipByValueAttrs;
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const heap = heapF32(backend);
  const xi = offsetF32(backend, x);
  const oi = offsetF32(backend, out);
  // The cpu backend's expression: NaN fails both comparisons and passes through.
  for (let i = 0; i < n; i++) {
    const v = heap[xi + i];
    heap[oi + i] = v > hi ? hi : v < lo ? lo : v;
  }
  return out;
}

/** `f` of every element of a float32 tensor, computed in double and rounded once (as the cpu backend). */
function elementwise(name: string, f: (v: number) => number, args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32') return runStock(name, args);
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const heap = heapF32(backend);
  const xi = offsetF32(backend, x);
  const oi = offsetF32(backend, out);
  for (let i = 0; i < n; i++) heap[oi + i] = f(heap[xi + i]);
  return out;
}

/** For each element of a tensor of `outShape`, the offset of the element of a broadcast operand of `shape`. */
function broadcastOffsets(shape: Shape, outShape: Shape): Int32Array {
  const rank = outShape.length;
  const n = tf.util.sizeFromShape(outShape);
  const full = [...new Array<number>(rank - shape.length).fill(1), ...shape];
  const strides = new Array<number>(rank);
  for (let d = rank - 1, st = 1; d >= 0; d--) {
    strides[d] = full[d] === 1 ? 0 : st;
    st *= full[d];
  }
  const offs = new Int32Array(n);
  const idx = new Array<number>(rank).fill(0);
  let off = 0;
  for (let i = 0; i < n; i++) {
    offs[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      off += strides[d];
      if (++idx[d] < outShape[d]) break;
      off -= strides[d] * outShape[d];
      idx[d] = 0;
    }
  }
  return offs;
}

function minMax(name: 'Maximum' | 'Minimum', args: KernelArgs): TI {
  const backend = wb(args.backend);
  const a = args.inputs.a as TI;
  const b = args.inputs.b as TI;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return runStock(name, args);
  const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
  const n = tf.util.sizeFromShape(outShape);
  const na = tf.util.sizeFromShape(a.shape);
  const nb = tf.util.sizeFromShape(b.shape);
  const out = backend.makeOutput(outShape, 'float32');
  const heap = heapF32(backend);
  const ai = offsetF32(backend, a);
  const bi = offsetF32(backend, b);
  const oi = offsetF32(backend, out);
  const f = name === 'Maximum' ? Math.max : Math.min; // NaN in, NaN out (as the cpu backend)
  if (na === n && nb === n) for (let i = 0; i < n; i++) heap[oi + i] = f(heap[ai + i], heap[bi + i]);
  else if (na === n && nb === 1) for (let i = 0, v = heap[bi]; i < n; i++) heap[oi + i] = f(heap[ai + i], v);
  else if (na === 1 && nb === n) for (let i = 0, v = heap[ai]; i < n; i++) heap[oi + i] = f(v, heap[bi + i]);
  else {
    const oa = broadcastOffsets(a.shape, outShape);
    const ob = broadcastOffsets(b.shape, outShape);
    for (let i = 0; i < n; i++) heap[oi + i] = f(heap[ai + oa[i]], heap[bi + ob[i]]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Mean / Sum over a contiguous block of axes with kept axes after it (the NHWC spatial reductions of
// group and batch norm, and their gradients): one XNNPACK average pooling, multi-threaded, instead
// of the package's transpose of the whole tensor followed by a reduction of its last axis.

/** [outer, r, inner] when `axes` are consecutive and leave at least 2 kept elements after them; else undefined. */
function reductionBlock(shape: Shape, axisAttr: number | number[]): { outer: number; r: number; inner: number; axes: number[] } | undefined {
  const axes = tf.util.parseAxisParam(axisAttr, shape).sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return undefined;
  const a0 = axes[0];
  const a1 = axes[axes.length - 1];
  const outer = tf.util.sizeFromShape(shape.slice(0, a0));
  const r = tf.util.sizeFromShape(shape.slice(a0, a1 + 1));
  const inner = tf.util.sizeFromShape(shape.slice(a1 + 1));
  if (inner < 2 || r < 2 || outer === 0) return undefined;
  return { outer, r, inner, axes };
}

function reduceOutShape(shape: Shape, axes: number[], keepDims: boolean): Shape {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** The smallest normal float32. */
const MIN_NORMAL_F32 = 2 ** -126;

function meanOrSum(name: 'Mean' | 'Sum', args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const { axis, keepDims } = args.attrs as unknown as tf.MeanAttrs;
  const block = x.dtype === 'float32' ? reductionBlock(x.shape, axis) : undefined;
  if (!block) return runStock(name, args);
  const { outer, r, inner, axes } = block;
  // [outer, r, 1, inner] with an r x 1 window: the mean over the block for every (outer, inner).
  const pooled = run('AvgPool', backend, { x: reshaped(x, [outer, r, 1, inner]) }, { filterSize: [r, 1], strides: [r, 1], pad: 'valid', dimRoundingMode: undefined });
  const heap = heapF32(backend);
  const o = offsetF32(backend, pooled);
  const xo = offsetF32(backend, x);
  for (let i = 0; i < outer * inner; i++) {
    const avg = heap[o + i];
    // Recomputed exactly, as the cpu backend sums (Mean: the sum of x / r, in double): a non-finite
    // average (the pooling clamps its output, which turns NaN into -Inf) and one below the smallest
    // normal float32 (the pooling scales by 1/r first, and a subnormal keeps few bits).
    if (Number.isFinite(avg) && Math.abs(avg) >= MIN_NORMAL_F32) {
      if (name === 'Sum') heap[o + i] = avg * r;
      continue;
    }
    const base = xo + Math.floor(i / inner) * r * inner + (i % inner);
    let acc = 0;
    for (let k = 0; k < r; k++) acc += name === 'Mean' ? Math.fround(heap[base + k * inner] / r) : heap[base + k * inner];
    heap[o + i] = acc;
  }
  return { dataId: pooled.dataId, shape: reduceOutShape(x.shape, axes, keepDims), dtype: 'float32' };
}

// ---------------------------------------------------------------------------------------------
// Slice / SplitV / Concat of 4-byte tensors: heap-to-heap copies of whole contiguous runs
// (`copyWithin`), instead of the package's per-element JS loops (Slice, SplitV) and per-row
// `subarray` objects (Concat). Used by every skip connection of a UNet and by its gradient.

function fourBytes(dtype: tf.DataType): boolean {
  return dtype === 'float32' || dtype === 'int32';
}

/** The whole heap as 4-byte words (bit-exact copies of float32 and int32). */
function heapU32(backend: WasmBackend): Uint32Array {
  return new Uint32Array(backend.wasm.HEAPU8.buffer);
}

/**
 * Copy the box `begin`/`size` of a row-major tensor of `shape` (words from `src`) to `dst`, densely.
 * The innermost axes the box spans fully merge into one contiguous run per outer index.
 */
function copyBox(heap: Uint32Array, src: number, shape: Shape, begin: number[], size: number[], dst: number): void {
  const rank = shape.length;
  if (tf.util.sizeFromShape(size) === 0) return;
  let a = rank - 1; // the innermost axis that is not taken whole
  while (a > 0 && begin[a] === 0 && size[a] === shape[a]) a--;
  const strides = tf.util.computeStrides(shape); // length rank - 1
  const stride = (i: number): number => (i === rank - 1 ? 1 : strides[i]);
  const run = size[a] * stride(a);
  const idx = new Array<number>(a).fill(0); // index over axes 0..a-1 of the box
  let d = dst;
  for (;;) {
    let s = src + begin[a] * stride(a);
    for (let i = 0; i < a; i++) s += (begin[i] + idx[i]) * stride(i);
    heap.copyWithin(d, s, s + run);
    d += run;
    let i = a - 1;
    while (i >= 0 && ++idx[i] === size[i]) idx[i--] = 0;
    if (i < 0) break;
  }
}

/** A new tensor holding the box `begin`/`size` of `x` (4-byte dtype). */
function sliceBox(backend: WasmBackend, x: TI, begin: number[], size: number[]): TI {
  const out = backend.makeOutput(size, x.dtype);
  copyBox(heapU32(backend), offsetF32(backend, x), x.shape, begin, size, offsetF32(backend, out));
  return out;
}

function slice(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  if (!fourBytes(x.dtype) || x.shape.length === 0) return runStock('Slice', args);
  const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
  const [b, sz] = tf.slice_util.parseSliceParams(x, begin, size);
  return sliceBox(wb(args.backend), x, b, sz);
}

function splitV(args: KernelArgs): TI[] {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (!fourBytes(x.dtype)) return runStock('SplitV', args) as unknown as TI[];
  const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = [...x.shape];
    size[ax] = s;
    const out = sliceBox(backend, x, begin, size);
    begin[ax] += s;
    return out;
  });
}

function concat(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const inputs = args.inputs as unknown as TI[];
  const dtype = inputs[0]?.dtype;
  if (!dtype || !fourBytes(dtype) || inputs.some((t) => t.dtype !== dtype)) return runStock('Concat', args);
  const axis = tf.util.parseAxisParam((args.attrs as unknown as tf.ConcatAttrs).axis, inputs[0].shape)[0];
  const shapes = inputs.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const parts = inputs.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (parts.length === 1) return identity({ inputs: { x: parts[0] }, backend: args.backend });
  const out = backend.makeOutput(outShape, dtype);
  const outer = tf.util.sizeFromShape(outShape.slice(0, axis));
  const runs = parts.map((t) => tf.util.sizeFromShape(t.shape.slice(axis)));
  const total = runs.reduce((a, b) => a + b, 0);
  const heap = heapU32(backend);
  const srcs = parts.map((t) => offsetF32(backend, t));
  let col = offsetF32(backend, out);
  for (let i = 0; i < parts.length; i++) {
    const run = runs[i];
    for (let o = 0, s = srcs[i], d = col; o < outer; o++, s += run, d += total) heap.copyWithin(d, s, s + run);
    col += run;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

const KERNELS: Record<(typeof WASM_KERNEL_NAMES)[number], tf.KernelFunc> = {
  Identity: identity as unknown as tf.KernelFunc,
  Cast: cast as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as unknown as tf.KernelFunc,
  Conv2DBackpropFilter: conv2DBackpropFilter as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInput as unknown as tf.KernelFunc,
  DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilter as unknown as tf.KernelFunc,
  BatchMatMul: batchMatMul as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGrad as unknown as tf.KernelFunc,
  UnsortedSegmentSum: unsortedSegmentSum as unknown as tf.KernelFunc,
  Mean: ((args: KernelArgs) => meanOrSum('Mean', args)) as unknown as tf.KernelFunc,
  Sum: ((args: KernelArgs) => meanOrSum('Sum', args)) as unknown as tf.KernelFunc,
  Slice: slice as unknown as tf.KernelFunc,
  SplitV: splitV as unknown as tf.KernelFunc,
  Concat: concat as unknown as tf.KernelFunc,
  Sign: sign as unknown as tf.KernelFunc,
  ClipByValue: clipByValue as unknown as tf.KernelFunc,
  Maximum: ((args: KernelArgs) => minMax('Maximum', args)) as unknown as tf.KernelFunc,
  Minimum: ((args: KernelArgs) => minMax('Minimum', args)) as unknown as tf.KernelFunc,
  Sin: ((args: KernelArgs) => elementwise('Sin', Math.sin, args)) as unknown as tf.KernelFunc,
  Cos: ((args: KernelArgs) => elementwise('Cos', Math.cos, args)) as unknown as tf.KernelFunc,
  MaxPool: maxPool as unknown as tf.KernelFunc,
};

const installed = new Set<string>();

/**
 * Register the replacement kernels for backend 'wasm' (idempotent). Call after the wasm backend has
 * been initialised: the package kernels kept as fallbacks must have run their set-up. Returns the
 * names of the kernels now provided by this module.
 */
export function registerWasmKernels(): string[] {
  for (const name of WASM_KERNEL_NAMES) {
    if (installed.has(name)) continue;
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      stock.set(name, existing);
      tf.unregisterKernel(name, 'wasm');
    }
    // Keep the package kernel's set-up, so its fallback works after a re-initialisation of the backend.
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: KERNELS[name], setupFunc: existing?.setupFunc, disposeFunc: existing?.disposeFunc });
    installed.add(name);
  }
  return [...installed];
}

/** Put the package's own kernels back (for before/after measurements). */
export function unregisterWasmKernels(): void {
  clearWasmKernelCaches();
  for (const name of [...installed]) {
    tf.unregisterKernel(name, 'wasm');
    const s = stock.get(name);
    if (s) tf.registerKernel(s);
    installed.delete(name);
  }
}
