/**
 * `DepthwiseConv2dNativeBackpropInput` (not registered by the package): for channel multiplier 1, a
 * forward depthwise convolution of dy (zeros inserted for strides > 1) with the spatially flipped
 * filter; other cases are a direct loop over the heap. Filter [kh, kw, ci, m]; output channel c*m + j
 * is input channel c convolved with filter[:, :, c, j].
 */
import * as tf from '@tensorflow/tfjs-core';
import { convAttrs, depthwiseInfo, flippedFilter, forEachTap, insertZeros, transposedConvPads } from './conv_utils';
import { free, offsetF32, reshaped, run, wb, zeroedOutput } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function depthwiseBackpropInput(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const dy = args.inputs.dy as TI;
  const filter = args.inputs.filter as TI;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  if (dy.dtype !== 'float32' || filter.dtype !== 'float32')
    throw new Error(`DepthwiseConv2dNativeBackpropInput on wasm needs float32 tensors (got ${dy.dtype}, ${filter.dtype})`);
  const { inChannels: ci, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const mult = info.outChannels / ci;
  const { pt, pl, pb, pr } = transposedConvPads(info);
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

export const depthwiseConv2dNativeBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as tf.KernelFunc,
};
