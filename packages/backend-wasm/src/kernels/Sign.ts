/**
 * `Sign`: exact for every float, subnormals included. The package's kernel returns 0 for |x| below
 * about 1e-7 (so an l_inf attack step on a confidently classified sample, whose input gradient is
 * tiny, moves nothing); this is 1 for x > 0, -1 for x < 0, 0 for ±0 and NaN (as the cpu backend).
 */
import * as tf from '@tensorflow/tfjs-core';
import { runStock, wb } from './kernel_utils';
import type { KernelArgs, TI } from './types';

function sign(args: KernelArgs): TI {
  const backend = wb(args.backend);
  const x = args.inputs.x as TI;
  if (x.dtype !== 'float32' && x.dtype !== 'int32') return runStock('Sign', args);
  const n = tf.util.sizeFromShape(x.shape);
  const out = backend.makeOutput(x.shape, x.dtype);
  const buf = backend.wasm.HEAPU8.buffer;
  const view = (t: TI) =>
    x.dtype === 'int32'
      ? new Int32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, n)
      : new Float32Array(buf, backend.dataIdMap.get(t.dataId).memoryOffset, n);
  const xs = view(x);
  const o = view(out);
  for (let i = 0; i < n; i++) {
    const v = xs[i];
    o[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}

export const signConfig: tf.KernelConfig = {
  kernelName: tf.Sign,
  backendName: 'wasm',
  kernelFunc: sign as unknown as tf.KernelFunc,
};
