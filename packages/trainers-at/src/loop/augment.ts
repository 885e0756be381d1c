/**
 * Data augmentation for training: random crop with zero padding (torchvision RandomCrop(size,
 * padding=p)) and random horizontal flip, drawn from a SeededRng so a run (and its resume) is exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OptionsOf, SeededRng } from '@dbp-bench/framework';

export const augmentSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'Training augmentation: random crop with zero padding, random horizontal flip.',
  properties: {
    crop: { type: 'integer', minimum: 0, default: 0, description: 'Padding of the random crop in pixels (0 = off; CIFAR-10 standard: 4).' },
    flip: { type: 'boolean', default: false, description: 'Random horizontal flip (off for digits).' },
  },
} as const;

/** The augmentation options (the schema above, defaults filled): crop padding in pixels (0 = off), random horizontal flip. */
export type AugmentOptions = OptionsOf<typeof augmentSchema>;

/**
 * Augment a batch (NHWC). Per sample, draws (in this order) the crop offsets dy, dx in [0, 2p] when
 * crop > 0 and the flip bit when flip is on. Returns a new tensor (the input is not disposed); with
 * both off it returns a clone and draws nothing.
 */
export function augmentBatch(images: tf.Tensor4D, options: AugmentOptions, rng: SeededRng): tf.Tensor4D {
  const p = options.crop;
  if (p <= 0 && !options.flip) return images.clone();
  const [b, h, w, c] = images.shape;
  const src = images.dataSync() as Float32Array;
  const out = new Float32Array(src.length);
  const plane = h * w * c;
  for (let n = 0; n < b; n++) {
    const dy = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const dx = p > 0 ? rng.int(2 * p + 1) - p : 0;
    const flip = options.flip ? rng.uniform() < 0.5 : false;
    const base = n * plane;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      if (sy < 0 || sy >= h) continue; // zero padding
      for (let x = 0; x < w; x++) {
        const cx = flip ? w - 1 - x : x; // flip after crop, as RandomCrop then RandomHorizontalFlip
        const sx = cx + dx;
        if (sx < 0 || sx >= w) continue;
        const si = base + (sy * w + sx) * c;
        const di = base + (y * w + x) * c;
        for (let k = 0; k < c; k++) out[di + k] = src[si + k];
      }
    }
  }
  return tf.tensor4d(out, [b, h, w, c]);
}
