/**
 * The defenses bench suite: seconds per PGD gradient step through a purification chain — the exact
 * gradient of a fixed linear loss of purify(x) with per-step recompute — for DP_DDPM (101 steps, ADDT
 * default N = 1000) and DP_DDIM (11 steps, N = 100), at batch 8 (1 image x 8 EoT replicas in the batch
 * dimension, fresh noise) on the UNet preset `small` (6.47 M parameters; the PyTorch reference model of the same configuration) of @dbp-bench/models, plus
 * the forward-only purification. The note gives the process peak RSS and the wasm heap size (which
 * never shrinks, so it is the heap's peak) after the row.
 *
 * Reference: PyTorch CPU with the same UNet at batch 8, one step of a checkpointed chain gradient
 * (bench/torch_reference.py on this machine via --reference, else the number recorded on the
 * reference machine, ~0.30 s). The note column gives our seconds per step and the ratio (target: <= 4x).
 * --quick: 3-step chains (N = 20) instead of 101 / 11, one timed repetition.
 *
 * With --torch <python> the suite first runs paired rounds: PyTorch's 10-step chain
 * (bench/torch_reference.py) and an 11-step DP_DDPM gradient (N = 100) alternately, three times
 * (once with --quick), so that both sides see the same load on a shared machine; the median PyTorch
 * step is then the reference of every row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { eotRows, FreshNoiseSource, type Defense } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS } from '@dbp-bench/models';
import { DpDdim, DpDdpm } from '@dbp-bench/defenses-dbp';
import type { BenchOptions, BenchRow, BenchSuite } from './types';
import { RECORDED_TORCH_REFERENCE, ratioNote, runTorchReference, type TorchReference } from './reference';
import { median } from './median';

const BATCH = 8;

const MB = 2 ** 20;

/** Process high-water RSS (bytes). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** The wasm heap size (it grows and never shrinks: the peak so far), when the backend is wasm. */
function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return b.wasm?.HEAPU8?.buffer.byteLength;
}

/** Peak RSS and, on wasm, the heap size, as a note. */
export function memoryNote(): string {
  const heap = wasmHeapBytes();
  return `peak RSS ${(peakRssBytes() / MB).toFixed(0)} MB` + (heap !== undefined ? `, wasm heap ${(heap / MB).toFixed(0)} MB` : '');
}

/** Median seconds of `reps` timed calls after `warmup` untimed ones; fails on a tensor leak. */
export function time(fn: () => tf.Tensor, reps: number, warmup: number): number {
  const once = (): void => {
    const out = fn();
    out.dataSync();
    out.dispose();
  };
  const before = tf.memory().numTensors;
  for (let i = 0; i < warmup; i++) once();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    once();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`bench: the measured call leaked ${leaked} tensors`);
  return times.length ? median(times) : NaN; // reps = 0: a warm-up only
}

/** The chains the defense suites time: DP_DDPM and DP_DDIM at their defaults, or 20-step (N = 20) ones with --quick. */
export function benchChains(unet: UNet, quick: boolean | undefined): [string, Defense & { numSteps: number }][] {
  return quick
    ? [
        ['dp-ddpm', new DpDdpm(unet, { numInferenceSteps: 20 })],
        ['dp-ddim', new DpDdim(unet, { numInferenceSteps: 20 })],
      ]
    : [
        ['dp-ddpm', new DpDdpm(unet)],
        ['dp-ddim', new DpDdim(unet)],
      ];
}

export const defensesBench: BenchSuite = {
  name: 'defenses',
  async run(opts: BenchOptions): Promise<BenchRow[]> {
    let ref: TorchReference = opts.reference ?? RECORDED_TORCH_REFERENCE;
    const unet = new UNet(UNET_PRESETS.small, 0);
    const rows: BenchRow[] = [];
    const x = tf.tidy(() => tf.tile(tf.randomUniform([1, 32, 32, 3], 0, 1, 'float32', 1), [BATCH, 1, 1, 1])) as tf.Tensor4D;
    const w = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, 'float32', 2);
    const noise = new FreshNoiseSource(0, eotRows([0], BATCH));
    const gradOf = (d: Defense) => () =>
      tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(d.purify(xx as tf.Tensor4D, noise), w)))(x));
    try {
      if (opts.torchPython) {
        const d = new DpDdpm(unet, { numInferenceSteps: opts.quick ? 20 : 100 });
        const rounds = opts.quick ? 1 : 3;
        const torchSteps: number[] = [];
        const ours: number[] = [];
        time(gradOf(d), 0, 1);
        for (let r = 0; r < rounds; r++) {
          const t = runTorchReference(opts.torchPython, opts.quick ? 3 : 10);
          torchSteps.push(t.chainStepSeconds);
          ref = { ...t, chainStepSeconds: median(torchSteps) };
          ours.push(time(gradOf(d), 1, 0) / d.numSteps);
        }
        const perStep = median(ours);
        const ratios = ours.map((o, i) => (o / torchSteps[i]).toFixed(1)).join(', ');
        rows.push({
          suite: 'defenses',
          name: `dp-ddpm ${d.numSteps}-step exact gradient, batch ${BATCH}, paired with PyTorch (${rounds} alternating rounds)`,
          seconds: perStep * d.numSteps,
          rssBytes: process.memoryUsage().rss,
          note: `median ${perStep.toFixed(3)} s/step = ${ratioNote(perStep, ref.chainStepSeconds)} per checkpointed step; per round ${ratios}x; ${ref.source}`,
        });
      }
      const cases = benchChains(unet, opts.quick);
      // Warm up kernels and the heap on a 1-step chain (a full-length warm-up would double the run).
      const warm = new DpDdim(unet, { numInferenceSteps: 1000, strength: 0.001 });
      time(gradOf(warm), 0, 1);
      for (const [id, d] of cases) {
        const n = d.numSteps;
        const grad = time(gradOf(d), 1, 0);
        const perStep = grad / n;
        rows.push({
          suite: 'defenses',
          name: `${id} ${n}-step exact gradient, batch ${BATCH} (1x${BATCH} EoT), UNet small`,
          seconds: grad,
          rssBytes: process.memoryUsage().rss,
          note: `${perStep.toFixed(3)} s/step = ${ratioNote(perStep, ref.chainStepSeconds)} per checkpointed step, ${ref.source}; ${memoryNote()}`,
        });
        const fwd = time(() => d.purify(x, noise), 1, 0);
        rows.push({
          suite: 'defenses',
          name: `${id} ${n}-step purification (forward only), batch ${BATCH}, UNet small`,
          seconds: fwd,
          rssBytes: process.memoryUsage().rss,
          note: `${(fwd / n).toFixed(3)} s/step; ${memoryNote()}`,
        });
      }
    } finally {
      tf.dispose([x, w]);
      unet.dispose();
    }
    return rows;
  },
};
