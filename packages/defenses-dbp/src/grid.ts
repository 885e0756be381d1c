/**
 * Image grids for looking at purification: one row per tensor (e.g. original, purified), one column
 * per image, written as an RGB PNG; optionally a label left of each row and a caption under each
 * image (e.g. the classifier's prediction, green when correct, red when wrong), drawn with a built-in
 * 3x5 pixel font (upper-case letters, digits and `.-_:/%=()+?`; anything else is drawn as `?`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { ShapeMismatchError, writeFileAtomic } from '@dbp-bench/framework';

export interface GridOptions {
  /** Pixels between cells (default 2). */
  readonly padding?: number;
  /** Integer upscale factor per pixel (default: 2 for images up to 64 px, else 1). */
  readonly scale?: number;
  /** Background grey level 0..255 (default 255). */
  readonly background?: number;
  /** One label per row, drawn left of the row (e.g. `original`, `purified`). */
  readonly rowLabels?: readonly string[];
  /** Per row (null: none), one caption per image, drawn under it (e.g. the predicted class). */
  readonly captions?: readonly (readonly GridCaption[] | null)[];
}

/** A caption under an image: its text and whether it is right (green), wrong (red) or neither (grey). */
export interface GridCaption {
  readonly text: string;
  readonly correct?: boolean;
}

/** Colours of caption and label text. */
export const GRID_TEXT_COLOURS = { label: [0, 0, 0], correct: [0, 128, 0], wrong: [200, 0, 0], neutral: [64, 64, 64] } as const;

/**
 * The captions of a row of predictions: the class name (else its index) of each prediction, marked
 * correct when it equals the label.
 */
export function predictionCaptions(
  predictions: ArrayLike<number>,
  labels?: ArrayLike<number>,
  classNames?: readonly string[],
): GridCaption[] {
  return Array.from(predictions, (p, i) => ({
    text: classNames?.[p] ?? String(p),
    ...(labels ? { correct: p === labels[i] } : {}),
  }));
}

/** The 3x5 pixel font: five rows of three columns per character, top to bottom ('#' ink). */
const FONT: Record<string, string> = {
  A: '.#. #.# ### #.# #.#',
  B: '##. #.# ##. #.# ##.',
  C: '.## #.. #.. #.. .##',
  D: '##. #.# #.# #.# ##.',
  E: '### #.. ##. #.. ###',
  F: '### #.. ##. #.. #..',
  G: '.## #.. #.# #.# .##',
  H: '#.# #.# ### #.# #.#',
  I: '### .#. .#. .#. ###',
  J: '..# ..# ..# #.# .#.',
  K: '#.# #.# ##. #.# #.#',
  L: '#.. #.. #.. #.. ###',
  M: '#.# ### ### #.# #.#',
  N: '##. #.# #.# #.# #.#',
  O: '.#. #.# #.# #.# .#.',
  P: '##. #.# ##. #.. #..',
  Q: '.#. #.# #.# ##. .##',
  R: '##. #.# ##. #.# #.#',
  S: '.## #.. .#. ..# ##.',
  T: '### .#. .#. .#. .#.',
  U: '#.# #.# #.# #.# ###',
  V: '#.# #.# #.# #.# .#.',
  W: '#.# #.# ### ### #.#',
  X: '#.# #.# .#. #.# #.#',
  Y: '#.# #.# .#. .#. .#.',
  Z: '### ..# .#. #.. ###',
  '0': '### #.# #.# #.# ###',
  '1': '.#. ##. .#. .#. ###',
  '2': '##. ..# .#. #.. ###',
  '3': '##. ..# .#. ..# ##.',
  '4': '#.# #.# ### ..# ..#',
  '5': '### #.. ##. ..# ##.',
  '6': '.## #.. ### #.# ###',
  '7': '### ..# .#. .#. .#.',
  '8': '### #.# ### #.# ###',
  '9': '### #.# ### ..# ##.',
  ' ': '... ... ... ... ...',
  '.': '... ... ... ... .#.',
  '-': '... ... ### ... ...',
  _: '... ... ... ... ###',
  ':': '... .#. ... .#. ...',
  '/': '..# ..# .#. #.. #..',
  '%': '#.# ..# .#. #.. #.#',
  '=': '... ### ... ### ...',
  '(': '.#. #.. #.. #.. .#.',
  ')': '.#. ..# ..# ..# .#.',
  '+': '... .#. ### .#. ...',
  '?': '##. ..# .#. ... .#.',
};
/** Character advance and text band height in font pixels. */
const ADVANCE = 4;
const BAND = 7;

/** The glyph bitmap of a character ('?' for one the font lacks), 15 booleans row-major. */
export function glyph(ch: string): boolean[] {
  const g = FONT[ch.toUpperCase()] ?? FONT['?'];
  return Array.from(g.replace(/ /g, ''), (c) => c === '#');
}

/**
 * Encode rows of NHWC [0,1] images (1 or 3 channels, all the same shape) as a PNG. Values are
 * clamped to [0,1] and rounded to 8 bits. With `rowLabels` a strip left of the rows holds each row's
 * label (vertically centred); with `captions` a band under each row holds each image's caption, cut
 * to the image width. One font pixel is `scale` image pixels.
 */
export function imageGridPng(rows: readonly tf.Tensor4D[], options: GridOptions = {}): Buffer {
  if (rows.length === 0) throw new ShapeMismatchError('imageGridPng: no rows given');
  const [n, h, w, c] = rows[0].shape;
  for (const [i, r] of rows.entries()) {
    if (r.shape.join(',') !== rows[0].shape.join(',')) {
      throw new ShapeMismatchError(`imageGridPng: row ${i} has shape [${r.shape.join(',')}], row 0 has [${rows[0].shape.join(',')}]`);
    }
  }
  if (c !== 1 && c !== 3) throw new ShapeMismatchError(`imageGridPng: images must have 1 or 3 channels, got ${c}`);
  const pad = options.padding ?? 2;
  const scale = options.scale ?? (Math.max(h, w) <= 64 ? 2 : 1);
  const bg = options.background ?? 255;
  const labels = options.rowLabels;
  const captions = options.captions;
  if (labels && labels.length !== rows.length)
    throw new ShapeMismatchError(`imageGridPng: rowLabels has ${labels.length} labels for ${rows.length} rows`);
  if (captions) {
    if (captions.length !== rows.length)
      throw new ShapeMismatchError(`imageGridPng: captions has ${captions.length} rows for ${rows.length} rows`);
    captions.forEach((c, i) => {
      if (c && c.length !== n) throw new ShapeMismatchError(`imageGridPng: captions[${i}] has ${c.length} captions for ${n} images`);
    });
  }
  const cellW = w * scale;
  const cellH = h * scale;
  // Text: one font pixel is `fs` image pixels; a label strip left of the rows, a caption band under each row.
  const fs = Math.max(1, scale);
  const labelChars = labels ? Math.max(0, ...labels.map((l) => l.length)) : 0;
  const labelW = labelChars ? labelChars * ADVANCE * fs + pad : 0;
  const captionH = captions?.some(Boolean) ? BAND * fs : 0;
  const rowH = cellH + captionH;
  const width = labelW + n * cellW + (n + 1) * pad;
  const height = rows.length * rowH + (rows.length + 1) * pad;
  const png = new PNG({ width, height });
  png.data.fill(bg);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  const text = (t: string, x0: number, y0: number, colour: readonly number[], maxChars: number): void => {
    [...t].slice(0, maxChars).forEach((ch, k) => {
      const g = glyph(ch);
      for (let gy = 0; gy < 5; gy++)
        for (let gx = 0; gx < 3; gx++) {
          if (!g[gy * 3 + gx]) continue;
          for (let yy = 0; yy < fs; yy++)
            for (let xx = 0; xx < fs; xx++) {
              const px = x0 + (k * ADVANCE + gx) * fs + xx;
              const py = y0 + gy * fs + yy;
              if (px >= width || py >= height) continue;
              const dst = (py * width + px) * 4;
              png.data[dst] = colour[0];
              png.data[dst + 1] = colour[1];
              png.data[dst + 2] = colour[2];
            }
        }
    });
  };
  rows.forEach((row, ri) => {
    const t8 = tf.tidy(() => tf.round(tf.mul(tf.clipByValue(row, 0, 1), 255)));
    const data = t8.dataSync();
    t8.dispose();
    const y0 = pad + ri * (rowH + pad);
    if (labels) text(labels[ri], pad, y0 + Math.max(0, Math.floor((cellH - 5 * fs) / 2)), GRID_TEXT_COLOURS.label, labelChars);
    for (let k = 0; k < n; k++) {
      const x0 = labelW + pad + k * (cellW + pad);
      for (let y = 0; y < cellH; y++) {
        for (let x = 0; x < cellW; x++) {
          const src = ((k * h + Math.floor(y / scale)) * w + Math.floor(x / scale)) * c;
          const dst = ((y0 + y) * width + (x0 + x)) * 4;
          png.data[dst] = data[src];
          png.data[dst + 1] = data[src + (c === 3 ? 1 : 0)];
          png.data[dst + 2] = data[src + (c === 3 ? 2 : 0)];
        }
      }
      const cap = captions?.[ri]?.[k];
      if (cap) {
        const colour =
          cap.correct === undefined ? GRID_TEXT_COLOURS.neutral : cap.correct ? GRID_TEXT_COLOURS.correct : GRID_TEXT_COLOURS.wrong;
        text(cap.text, x0, y0 + cellH + fs, colour, Math.max(1, Math.floor((cellW + pad) / (ADVANCE * fs))));
      }
    }
  });
  return PNG.sync.write(png);
}

/** Write an image grid PNG atomically. */
export function writeImageGrid(file: string, rows: readonly tf.Tensor4D[], options: GridOptions = {}): void {
  writeFileAtomic(file, imageGridPng(rows, options));
}
