/**
 * `Conv2DBackpropFilter` (not registered by the package): one forward convolution of the input,
 * transposed to [inC, H, W, batch], with dy, transposed to [outH, outW, batch, outC], as the filter
 * and the stride as the dilation; the [inC, kh, kw, outC] result is transposed to the filter layout.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convAttrs } from './conv_utils';
import { free, run, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

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
  if (x.dtype !== 'float32' || dy.dtype !== 'float32')
    throw new Error(`Conv2DBackpropFilter on wasm needs float32 tensors (got ${x.dtype}, ${dy.dtype})`);
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: ci,
    outHeight: oh,
    outWidth: ow,
    filterHeight: kh,
    filterWidth: kw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
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

export const conv2DBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as tf.KernelFunc,
};
