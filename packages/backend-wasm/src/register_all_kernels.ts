/**
 * The registration list of the replacement and missing gradient-time kernels for the wasm backend
 * (docs/PERFORMANCE.md item 2). As in TensorFlow.js's own backends, each kernel is one file,
 * `kernels/<KernelName>.ts`, exporting its `KernelConfig`; this file lists them in registration order.
 * Unlike tfjs, importing it registers nothing: `registerWasmKernels()` does, after the wasm backend is
 * initialised, keeping each package kernel it replaces as the fallback for the cases it does not cover.
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
import { identityConfig } from './kernels/Identity';
import { castConfig } from './kernels/Cast';
import { conv2DBackpropInputConfig } from './kernels/Conv2DBackpropInput';
import { conv2DBackpropFilterConfig } from './kernels/Conv2DBackpropFilter';
import { depthwiseConv2dNativeBackpropInputConfig } from './kernels/DepthwiseConv2dNativeBackpropInput';
import { depthwiseConv2dNativeBackpropFilterConfig } from './kernels/DepthwiseConv2dNativeBackpropFilter';
import { batchMatMulConfig } from './kernels/BatchMatMul';
import { maxPoolGradConfig } from './kernels/MaxPoolGrad';
import { unsortedSegmentSumConfig } from './kernels/UnsortedSegmentSum';
import { meanConfig } from './kernels/Mean';
import { sumConfig } from './kernels/Sum';
import { sliceConfig } from './kernels/Slice';
import { splitVConfig } from './kernels/SplitV';
import { concatConfig } from './kernels/Concat';
import { signConfig } from './kernels/Sign';
import { clipByValueConfig } from './kernels/ClipByValue';
import { maximumConfig } from './kernels/Maximum';
import { minimumConfig } from './kernels/Minimum';
import { sinConfig } from './kernels/Sin';
import { cosConfig } from './kernels/Cos';
import { maxPoolConfig } from './kernels/MaxPool';
import { stock } from './kernels/kernel_utils';
import { clearWasmKernelCaches } from './kernels/conv_utils';

export { FLIP_CACHE_MAX_BYTES, clearWasmKernelCaches, wasmKernelCacheSize } from './kernels/conv_utils';

/** The kernels this package replaces or adds, in registration order. */
export const WASM_KERNEL_CONFIGS: readonly tf.KernelConfig[] = [
  identityConfig,
  castConfig,
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  batchMatMulConfig,
  maxPoolGradConfig,
  unsortedSegmentSumConfig,
  meanConfig,
  sumConfig,
  sliceConfig,
  splitVConfig,
  concatConfig,
  signConfig,
  clipByValueConfig,
  maximumConfig,
  minimumConfig,
  sinConfig,
  cosConfig,
  maxPoolConfig,
];

/** The names of the kernels of WASM_KERNEL_CONFIGS, in registration order. */
export const WASM_KERNEL_NAMES: readonly string[] = WASM_KERNEL_CONFIGS.map((k) => k.kernelName);

const installed = new Set<string>();

/**
 * Register the replacement kernels for backend 'wasm' (idempotent). Call after the wasm backend has
 * been initialised: the package kernels kept as fallbacks must have run their set-up. Returns the
 * names of the kernels now provided by this package.
 */
export function registerWasmKernels(): string[] {
  for (const config of WASM_KERNEL_CONFIGS) {
    const name = config.kernelName;
    if (installed.has(name)) continue;
    const existing = tf.getKernel(name, 'wasm');
    if (existing) {
      stock.set(name, existing);
      tf.unregisterKernel(name, 'wasm');
    }
    // Keep the package kernel's set-up, so its fallback works after a re-initialisation of the backend.
    tf.registerKernel({
      kernelName: name,
      backendName: 'wasm',
      kernelFunc: config.kernelFunc,
      setupFunc: existing?.setupFunc,
      disposeFunc: existing?.disposeFunc,
    });
    installed.add(name);
  }
  return [...installed];
}

/** The names of the kernels this package has registered (empty before registerWasmKernels). */
export function installedWasmKernels(): string[] {
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
