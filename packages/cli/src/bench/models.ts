import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@dbp-bench/framework';
import { UNet, UNET_PRESETS, unetForwardFlops, type UNetPreset } from '@dbp-bench/models';
import type { BenchRow, BenchSuite } from './types';
import { RECORDED_TORCH_REFERENCE, ratioNote } from './reference';
import { median } from './median';

/** Median seconds of `reps` timed runs after one warm-up run; also the peak tensor bytes seen. */
function time(fn: () => tf.Tensor, reps: number): { seconds: number; peakBytes: number } {
  const out: number[] = [];
  let peak = 0;
  for (let r = 0; r <= reps; r++) {
    const t0 = process.hrtime.bigint();
    const y = fn();
    y.dataSync();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    peak = Math.max(peak, tf.memory().numBytes);
    y.dispose();
    if (r > 0) out.push(dt);
  }
  return { seconds: median(out), peakBytes: peak };
}

/**
 * UNet forward and forward + input-gradient time at batch 8 (the cost of one purification step and
 * of one attack step through it), for the `small` preset and, unless --quick, `ddpm-cifar10`.
 */
export const modelsBench: BenchSuite = {
  name: 'models',
  async run(opts) {
    await initBackend();
    const batch = 8;
    const presets: UNetPreset[] = opts.quick ? ['small'] : ['small', 'ddpm-cifar10'];
    const reps = opts.quick ? 2 : 3;
    const rows: BenchRow[] = [];
    const ref = opts.reference ?? RECORDED_TORCH_REFERENCE;
    /** The reference times the `small` preset only. */
    const vs = (p: UNetPreset, s: number, r: number | undefined): string =>
      p === 'small' && r !== undefined ? `; ${ratioNote(s, r)}, ${ref.source}` : '';
    for (const p of presets) {
      const cfg = { ...UNET_PRESETS[p], dropout: 0 };
      const unet = new UNet(cfg, 0);
      const x = tf.randomUniform([batch, cfg.sampleSize, cfg.sampleSize, cfg.inChannels], -1, 1, 'float32', 1) as tf.Tensor4D;
      const t = tf.fill([batch], 100) as tf.Tensor1D;
      try {
        const fwdFlops = (batch * unetForwardFlops(cfg)) / 1e9;
        const note = `${(unet.parameterCount() / 1e6).toFixed(2)} M params, batch ${batch}`;
        const fwd = time(() => unet.predictEps(x, t), reps);
        rows.push({
          suite: 'models',
          name: `unet ${p} forward`,
          seconds: fwd.seconds,
          gflops: fwdFlops,
          gflopsPerSecond: fwdFlops / fwd.seconds,
          peakBytes: fwd.peakBytes,
          note: note + vs(p, fwd.seconds, ref.forwardSeconds),
        });
        // input gradient only (no weight gradients): every conv and linear has one backward product of the
        // forward's size, so forward + backward is ~2x the forward FLOPs (attention products need two)
        const grad = tf.grad((xx) => tf.sum(tf.square(unet.predictEps(xx as tf.Tensor4D, t))));
        const bwd = time(() => grad(x), reps);
        rows.push({
          suite: 'models',
          name: `unet ${p} forward+input-grad`,
          seconds: bwd.seconds,
          gflops: 2 * fwdFlops,
          gflopsPerSecond: (2 * fwdFlops) / bwd.seconds,
          peakBytes: bwd.peakBytes,
          note: `${note}; GFLOP counted as 2x forward (input gradient only)` + vs(p, bwd.seconds, ref.forwardInputGradSeconds),
        });
      } finally {
        unet.dispose();
        tf.dispose([x, t]);
      }
    }
    return rows;
  },
};
