/**
 * A small procedural labelled dataset for fast tests: class c of K is an oriented sinusoidal grating
 * (orientation π·c/K) tinted with hue c/K, with a per-image random frequency, phase and brightness
 * and Gaussian pixel noise. Everything is derived from (seed, split, index) with the framework's
 * counter-based SeededRng, so any index can be read in any order with identical results.
 * Labels are balanced (index i gets label i mod K before a seeded shuffle).
 */
import { SeededRng, type DatasetInfo, type OptionsOf } from '@dbp-bench/framework';
import type synthetic from './dataset/synthetic';
import { ArrayBackedDataset } from './util';

/** The options of the `synthetic` plugin (`noise`: std of the per-pixel Gaussian noise, [0,1] pixel units). */
export type SyntheticOptions = OptionsOf<typeof synthetic.schema>;

function hueToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s),
    q = v * (1 - f * s),
    t = v * (1 - (1 - f) * s);
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** The synthetic dataset; deterministic by (seed, split). */
export class SyntheticDataset extends ArrayBackedDataset {
  constructor(private readonly options: SyntheticOptions) {
    const { size, numClasses: K } = options;
    const balanced = Array.from({ length: size }, (_, i) => i % K);
    const labels = Int32Array.from(new SeededRng(options.seed, `synthetic/${options.split}/labels`).shuffle(balanced));
    const info: DatasetInfo = {
      id: 'synthetic',
      split: options.split,
      size,
      shape: [options.imageSize, options.imageSize, options.channels],
      numClasses: K,
      classNames: Array.from({ length: K }, (_, c) => `class-${c}`),
      source: `synthetic(seed=${options.seed}, split=${options.split}, size=${size}, classes=${K}, image=${options.imageSize}x${options.imageSize}x${options.channels}, noise=${options.noise})`,
    };
    super(info, labels);
  }

  protected writeImage(index: number, out: Float32Array, offset: number): void {
    const { imageSize: S, channels: C, numClasses: K, noise } = this.options;
    const c = this.allLabels[index];
    const rng = new SeededRng(this.options.seed, `synthetic/${this.options.split}/${index}`);
    const theta = (Math.PI * c) / K + ((rng.uniform() - 0.5) * (0.3 * Math.PI)) / K;
    const freq = 2 + rng.uniform() * 1.5;
    const phase = rng.uniform() * 2 * Math.PI;
    const shift = (rng.uniform() - 0.5) * 0.2;
    const tint = hueToRgb(c / K, 0.7, 0.9);
    const ct = Math.cos(theta),
      st = Math.sin(theta);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const s = Math.sin((2 * Math.PI * freq * (x * ct + y * st)) / S + phase);
        const o = offset + (y * S + x) * C;
        for (let ch = 0; ch < C; ch++) {
          const base = C === 1 ? 0.5 + 0.35 * s : 0.5 + 0.25 * s + 0.35 * (tint[ch] - 0.5);
          const v = base + shift + noise * rng.normal();
          out[o + ch] = v < 0 ? 0 : v > 1 ? 1 : v;
        }
      }
    }
  }
}
