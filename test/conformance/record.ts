/**
 * Records the kernels the engine runs on the wasm backend: every `tf.engine().runKernel` call made while
 * wasm is the active backend (ops, and the gradient functions of `tf.grad`, all go through it) gives a
 * kernel name, its inputs (shape, dtype; the values of non-float inputs such as indices and masks; the
 * range of float inputs) and its attributes: enough to replay the call on any backend.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface RecordedInput {
  /** Input name (`x`, `filter`, ...; `0`, `1`, ... for kernels that take a list of tensors). */
  readonly name: string;
  readonly shape: number[];
  readonly dtype: tf.DataType;
  /** The values, for non-float inputs (indices, labels, masks): a replay needs valid ones. */
  readonly values?: number[];
  /** Smallest and largest finite value seen (float inputs). */
  readonly min?: number;
  readonly max?: number;
}

export interface KernelCall {
  readonly kernel: string;
  /** True when the kernel takes a list of tensors (Concat, AddN, Pack). */
  readonly list: boolean;
  readonly inputs: RecordedInput[];
  readonly attrs: Record<string, unknown>;
  /** Distinguishes signatures: attributes, input dtypes and shapes. */
  readonly key: string;
  /** The signature without input shapes (attributes, dtypes, ranks). */
  readonly kind: string;
  /** Elements of all inputs. */
  readonly size: number;
  /** The workload that first ran this signature. */
  readonly workload: string;
}

export interface KernelStats {
  calls: number;
  workloads: Set<string>;
}

/** JSON with non-finite numbers and typed arrays kept distinguishable (for signature keys). */
export function stableKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'number' && !Number.isFinite(x)) return `#${String(x)}`;
    if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number>);
    if (x === undefined) return '#undefined';
    return x;
  });
}

/** A deep copy of attribute values (arrays, plain objects, typed arrays; numbers stay as they are). */
function cloneAttr(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneAttr);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneAttr(x)]));
  return v;
}

function isFloat(dtype: tf.DataType): boolean {
  return dtype === 'float32';
}

export class KernelRecorder {
  /** Distinct signatures per kernel, in the order first seen. */
  readonly calls = new Map<string, KernelCall[]>();
  readonly stats = new Map<string, KernelStats>();
  workload = '';
  private original?: ReturnType<typeof tf.engine>['runKernel'];

  /**
   * @param maxPerKernel signatures kept per kernel.
   * @param byShape false: the first kinds seen (attributes, dtypes, ranks), each at its smallest input
   *   shapes; true: the first distinct signatures, shapes included (more, and larger, replays).
   */
  constructor(
    private readonly maxPerKernel = 4,
    private readonly byShape = false,
  ) {}

  start(): void {
    if (this.original) throw new Error('KernelRecorder: already recording');
    const engine = tf.engine();
    // eslint-disable-next-line @typescript-eslint/unbound-method -- restored onto the same engine in stop()
    const original = engine.runKernel;
    this.original = original;
    const recording = (kernelName: string, inputs: tf.NamedTensorMap, attrs?: tf.NamedAttrMap): tf.Tensor | tf.Tensor[] => {
      if (engine.backendName === 'wasm') this.note(kernelName, inputs, attrs ?? {});
      return original.call(engine, kernelName, inputs, attrs);
    };
    engine.runKernel = recording as typeof original;
  }

  stop(): void {
    if (!this.original) return;
    const engine = tf.engine();
    engine.runKernel = this.original;
    this.original = undefined;
  }

  kernels(): string[] {
    return [...this.calls.keys()].sort();
  }

  private note(kernel: string, inputs: tf.NamedTensorMap, attrs: tf.NamedAttrMap): void {
    const st = this.stats.get(kernel) ?? { calls: 0, workloads: new Set<string>() };
    st.calls++;
    st.workloads.add(this.workload);
    this.stats.set(kernel, st);
    const list = Array.isArray(inputs);
    const entries = Object.entries(inputs).filter(([, t]) => t != null) as [string, tf.Tensor][];
    const key = stableKey([kernel, attrs, entries.map(([n, t]) => [n, t.dtype, t.shape])]);
    // Signatures that differ only in input shapes are alike: keep one per kind (the smallest), so the
    // kept ones differ in attributes, dtypes or ranks first.
    const kind = stableKey([kernel, attrs, entries.map(([n, t]) => [n, t.dtype, t.shape.length])]);
    const have = this.calls.get(kernel) ?? [];
    const size = entries.reduce((a, [, t]) => a + t.size, 0);
    const same = this.byShape ? -1 : have.findIndex((c) => c.kind === kind);
    if (have.some((c) => c.key === key)) return;
    if (same >= 0 && have[same].size <= size) return;
    if (same < 0 && have.length >= this.maxPerKernel) return;
    const recorded: RecordedInput[] = entries.map(([name, t]) => {
      if (!isFloat(t.dtype)) return { name, shape: [...t.shape], dtype: t.dtype, values: Array.from(t.dataSync() as ArrayLike<number>) };
      const v = t.dataSync() as Float32Array;
      let min = Infinity;
      let max = -Infinity;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (Number.isFinite(x)) {
          if (x < min) min = x;
          if (x > max) max = x;
        }
      }
      return { name, shape: [...t.shape], dtype: t.dtype, min, max };
    });
    const call: KernelCall = {
      kernel,
      list,
      inputs: recorded,
      attrs: cloneAttr(attrs) as Record<string, unknown>,
      key,
      kind,
      size,
      workload: this.workload,
    };
    if (same >= 0) have[same] = call;
    else have.push(call);
    this.calls.set(kernel, have);
  }
}
