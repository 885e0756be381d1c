/** `Cast` to the dtype the tensor already has: a zero-copy alias (the package copies); other casts use the package's kernel. */
import * as tf from '@tensorflow/tfjs-core';
import { identity } from './Identity';
import { runStock } from './kernel_utils';
import type { KernelArgs, TI } from './types';

/** Cast to the dtype the tensor already has (every gradient of Mul and Square asks for one): an alias, not a JS copy. */
function cast(args: KernelArgs): TI {
  const x = args.inputs.x as TI;
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  if (dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') return runStock('Cast', args);
  return identity(args);
}

export const castConfig: tf.KernelConfig = {
  kernelName: tf.Cast,
  backendName: 'wasm',
  kernelFunc: cast as unknown as tf.KernelFunc,
};
