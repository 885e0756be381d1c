/**
 * What the kernels of this package share: the package's own kernels captured before they are replaced
 * (fallbacks for the cases a replacement does not cover), running another kernel, and views of the wasm
 * heap.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelArgs, Shape, TI, WasmBackend } from './types';

/** The package's own kernels, captured before they are replaced (fallbacks for unsupported cases). */
export const stock = new Map<string, tf.KernelConfig>();

export function wb(backend: unknown): WasmBackend {
  return backend as WasmBackend;
}

/** Run the kernel currently registered for wasm under `name`. */
export function run(name: string, backend: WasmBackend, inputs: tf.NamedTensorInfoMap, attrs: Record<string, unknown> = {}): TI {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm kernel ${name} is not registered`);
  return k.kernelFunc({ inputs, backend: backend as unknown as tf.KernelBackend, attrs: attrs as tf.NamedAttrMap }) as TI;
}

export function runStock(name: string, args: KernelArgs): TI {
  const k = stock.get(name);
  if (!k) throw new Error(`the wasm backend has no ${name} kernel for this case`);
  return k.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TI;
}

export function free(backend: WasmBackend, t: TI): void {
  backend.disposeData(t.dataId);
}

/** A TensorInfo with another shape over the same buffer (for passing to kernels; never disposed). */
export function reshaped(t: TI, shape: Shape): TI {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** The whole wasm heap as float32 (take it after the last allocation: the heap may grow). */
export function heapF32(backend: WasmBackend): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer);
}

/** The whole heap as 4-byte words (bit-exact copies of float32 and int32). */
export function heapU32(backend: WasmBackend): Uint32Array {
  return new Uint32Array(backend.wasm.HEAPU8.buffer);
}

export function offsetF32(backend: WasmBackend, t: TI): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset >>> 2;
}

/** A zero-copy view of `base` with `shape`, starting at element `offset`, registered under its own tensor id. */
export function makeView(backend: WasmBackend, base: TI, offset: number, shape: Shape): TI {
  const data = backend.dataIdMap.get(base.dataId);
  const id = backend.dataIdNextNumber++;
  const dataId = { id };
  const memoryOffset = data.memoryOffset + offset * 4;
  backend.dataIdMap.set(dataId, { id, memoryOffset, shape, dtype: base.dtype, refCount: 1 });
  backend.wasm.tfjs.registerTensor(id, tf.util.sizeFromShape(shape), memoryOffset);
  return { dataId, shape, dtype: base.dtype };
}

/** Unregister a view without freeing the memory it points into. */
export function dropView(backend: WasmBackend, view: TI): void {
  const data = backend.dataIdMap.get(view.dataId);
  backend.wasm.tfjs.disposeData(data.id);
  backend.dataIdMap.delete(view.dataId);
}

/** A new float32 output filled with zeros, the heap view (taken after the allocation) and its start element. */
export function zeroedOutput(backend: WasmBackend, shape: Shape): { out: TI; heap: Float32Array; start: number } {
  const out = backend.makeOutput(shape, 'float32');
  const heap = heapF32(backend);
  const start = offsetF32(backend, out);
  heap.fill(0, start, start + tf.util.sizeFromShape(shape));
  return { out, heap, start };
}

export function fourBytes(dtype: tf.DataType): boolean {
  return dtype === 'float32' || dtype === 'int32';
}
