/**
 * `Conv2DBackpropInput`: a forward convolution of dy with the filter flipped spatially and with its
 * in/out channels swapped (explicit padding `k-1-pad`); for strides > 1, zeros are first inserted
 * between the rows and columns of dy. The flipped filter is cached per weight buffer (conv_utils.ts),
 * so the backend's convolution operator (with its packed weights) is reused across calls.
 */
import * as tf from '@tensorflow/tfjs-core';
import { convAttrs, flippedFilter, insertZeros, transposedConvPads } from './conv_utils';
import { free, run, runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

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
  if (info.dataFormat !== 'channelsLast' || dy.dtype !== 'float32' || filter.dtype !== 'float32')
    return runStock('Conv2DBackpropInput', args);
  const { strideHeight: sh, strideWidth: sw } = info;
  const { pt, pl, pb, pr } = transposedConvPads(info);
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return runStock('Conv2DBackpropInput', args);
  const wf = flippedFilter(backend, filter);
  const src = sh > 1 || sw > 1 ? insertZeros(backend, dy, sh, sw) : dy;
  try {
    return run('Conv2D', backend, { x: src, filter: wf }, convAttrs([pt, pb, pl, pr]));
  } finally {
    if (src !== dy) free(backend, src);
  }
}

export const conv2DBackpropInputConfig: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as tf.KernelFunc,
};
