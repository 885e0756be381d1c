/**
 * The profile bench suite: where the time of one DP_DDPM exact-gradient step goes, kernel by kernel.
 * One checkpointed chain gradient (3 reverse steps, batch 8 = 1 image x 8 EoT replicas, UNet preset
 * `small`, the defenses suite's workload) runs under `tf.profile`; every kernel the engine dispatched
 * is summed by name: milliseconds, share of the kernel time, calls, and for the convolutions and
 * matrix products their nominal GFLOP and GFLOP/s. The `customGrad` scopes (`unnamed scope` in the
 * profile) wrap kernels that are recorded on their own and are left out of the sum, so the shares add
 * up to the time spent in kernels. The kernel time is measured by the backend around each kernel
 * (`backend.time`); the difference to the wall time of the step is JavaScript between kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import { eotRows, FreshNoiseSource } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DpDdpm } from '@dbp-bench/defenses-dbp';
import type { BenchOptions, BenchRow, BenchSuite } from './types';
import { median } from './median';

const BATCH = 8;

/** Nominal FLOPs of a kernel call from its shapes (convolutions and matrix products; 0 otherwise). */
export function kernelFlops(
  name: string,
  inputShapes: readonly (readonly number[])[],
  outputShapes: readonly (readonly number[])[],
): number {
  const out = outputShapes[0];
  if (!out) return 0;
  const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
  switch (name) {
    case 'Conv2D':
    case 'FusedConv2D': {
      // out [N, Ho, Wo, Co], filter [kh, kw, Ci, Co]
      const f = inputShapes[1];
      return f ? 2 * numel(out) * f[0] * f[1] * f[2] : 0;
    }
    case 'Conv2DBackpropInput': {
      // dy [N, Ho, Wo, Co], filter [kh, kw, Ci, Co], out dx [N, H, W, Ci]: one MAC per dy element and filter tap
      const [dy, f] = inputShapes;
      return dy && f ? 2 * numel(dy) * f[0] * f[1] * f[2] : 0;
    }
    case 'Conv2DBackpropFilter': {
      const [x, dy] = inputShapes;
      return x && dy ? 2 * numel(dy) * numel(out.slice(0, 3)) : 0;
    }
    case 'BatchMatMul':
    case '_FusedMatMul': {
      // out [..., M, N]; the first operand is [..., M, K] or, transposed, [..., K, M]
      const a = inputShapes[0];
      if (!a || a.length < 2) return 0;
      const m = out[out.length - 2];
      const [a1, a2] = a.slice(-2);
      return 2 * numel(out) * (a1 === m ? a2 : a1);
    }
    default:
      return 0;
  }
}

export interface KernelShare {
  name: string;
  ms: number;
  calls: number;
  /** Fraction of the summed kernel time. */
  share: number;
  gflop: number;
}

/** Sum a tf.profile kernel list by kernel name, without the customGrad scopes (their kernels are listed too). */
export function kernelShares(
  kernels: readonly { name: string; kernelTimeMs: unknown; inputShapes: unknown; outputShapes: unknown }[],
): KernelShare[] {
  const by = new Map<string, { ms: number; calls: number; gflop: number }>();
  let total = 0;
  for (const k of kernels) {
    if (k.name === 'unnamed scope') continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = by.get(k.name) ?? { ms: 0, calls: 0, gflop: 0 };
    e.ms += ms;
    e.calls++;
    e.gflop += kernelFlops(k.name, (k.inputShapes as number[][]) ?? [], (k.outputShapes as number[][]) ?? []) / 1e9;
    by.set(k.name, e);
    total += ms;
  }
  return [...by.entries()].map(([name, e]) => ({ name, ...e, share: total > 0 ? e.ms / total : 0 })).sort((a, b) => b.ms - a.ms);
}

export const profileBench: BenchSuite = {
  name: 'profile',
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    const unet = new UNet(UNET_PRESETS.small, 0);
    // 3 reverse steps from t* (N = 1000, strength 0.002): the per-step work of the 101-step chain
    const d = new DpDdpm(unet, { numInferenceSteps: 1000, strength: 0.002 });
    const x = tf.tidy(() => tf.tile(tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 1), [BATCH, 1, 1, 1])) as tf.Tensor4D;
    const w = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, 'float32', 2);
    const noise = new FreshNoiseSource(0, eotRows([0], BATCH));
    const step = (): void => {
      const g = tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(d.purify(xx as tf.Tensor4D, noise), w)))(x));
      g.dataSync();
      g.dispose();
    };
    try {
      step(); // warm-up: operators, heap, cached flipped filters
      const t0 = process.hrtime.bigint();
      step();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      // The ceiling: the best 3x3 convolution of this workload, timed alone (median of 5).
      const cx = tf.randomNormal([BATCH, 32, 32, 64], 0, 1, 'float32', 3) as tf.Tensor4D;
      const cf = tf.randomNormal([3, 3, 64, 64], 0, 0.05, 'float32', 4) as tf.Tensor4D;
      const convTimes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const c0 = process.hrtime.bigint();
        const y = tf.conv2d(cx, cf, 1, 'same');
        y.dataSync();
        y.dispose();
        if (i > 0) convTimes.push(Number(process.hrtime.bigint() - c0) / 1e9);
      }
      tf.dispose([cx, cf]);
      const ceiling =
        kernelFlops(
          'Conv2D',
          [
            [BATCH, 32, 32, 64],
            [3, 3, 64, 64],
          ],
          [[BATCH, 32, 32, 64]],
        ) /
        1e9 /
        median(convTimes);
      const info = await tf.profile(step);
      const shares = kernelShares(info.kernels as never);
      const kernelSeconds = shares.reduce((a, s) => a + s.ms, 0) / 1000;
      const rows: BenchRow[] = [
        {
          suite: 'profile',
          name: `ceiling: one 3x3 convolution 64->64, 32x32, batch ${BATCH}, forward`,
          seconds: median(convTimes),
          gflops:
            kernelFlops(
              'Conv2D',
              [
                [BATCH, 32, 32, 64],
                [3, 3, 64, 64],
              ],
              [[BATCH, 32, 32, 64]],
            ) / 1e9,
          gflopsPerSecond: ceiling,
          note: "the fastest the backend runs the UNet's most common convolution (median of 5)",
        },
        {
          suite: 'profile',
          name: `dp-ddpm exact gradient, ${d.numSteps} steps, batch ${BATCH}: wall time (unprofiled)`,
          seconds: wall,
          note: `${(wall / d.numSteps).toFixed(3)} s per step; kernels ${kernelSeconds.toFixed(2)} s of the profiled run, the rest is JavaScript between kernels`,
        },
      ];
      const shown = opts.quick ? 8 : 16;
      for (const s of shares.slice(0, shown)) {
        rows.push({
          suite: 'profile',
          name: `  kernel ${s.name} (${s.calls} calls)`,
          seconds: s.ms / 1000,
          gflops: s.gflop > 0 ? s.gflop : undefined,
          gflopsPerSecond: s.gflop > 0 ? s.gflop / (s.ms / 1000) : undefined,
          note: `${(100 * s.share).toFixed(1)}% of kernel time${s.gflop > 0 ? `, ${((100 * s.gflop) / (s.ms / 1000) / ceiling).toFixed(0)}% of the conv ceiling` : ''}`,
        });
      }
      const rest = shares.slice(shown);
      if (rest.length)
        rows.push({
          suite: 'profile',
          name: `  ${rest.length} other kernels`,
          seconds: rest.reduce((a, s) => a + s.ms, 0) / 1000,
          note: `${(100 * rest.reduce((a, s) => a + s.share, 0)).toFixed(1)}% of kernel time`,
        });
      return rows;
    } finally {
      tf.dispose([x, w]);
      unet.dispose();
    }
  },
};
