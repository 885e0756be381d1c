/**
 * `DepthwiseConv2dNativeBackpropFilter` (not registered by the package): a direct loop over the heap
 * (as many multiply-adds as the forward pass).
 */
import * as tf from '@tensorflow/tfjs-core';
import { depthwiseInfo, forEachTap } from './conv_utils';
import { offsetF32, wb, zeroedOutput } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function depthwiseBackpropFilter(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  const dy = args.inputs.dy as TI;
  const attrs = args.attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  if (x.dtype !== 'float32' || dy.dtype !== 'float32')
    throw new Error(`DepthwiseConv2dNativeBackpropFilter on wasm needs float32 tensors (got ${x.dtype}, ${dy.dtype})`);
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

export const depthwiseConv2dNativeBackpropFilterConfig: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilter as unknown as tf.KernelFunc,
};
