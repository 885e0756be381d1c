/**
 * The internals of the 4.22.0 `BackendWasm` the kernels of this package use (guarded by
 * `checkPinnedVersions`), and the shapes of a kernel's arguments.
 */
import type * as tf from '@tensorflow/tfjs-core';

export type TI = tf.TensorInfo;

export type Shape = number[];

export interface WasmData {
  id: number;
  memoryOffset: number;
  shape: Shape;
  dtype: tf.DataType;
  refCount: number;
}

/** The internals of the 4.22.0 `BackendWasm` used by these kernels. */
export interface WasmBackend {
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

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };
