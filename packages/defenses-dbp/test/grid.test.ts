import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { glyph, imageGridPng, predictionCaptions, GRID_TEXT_COLOURS } from '../src';

/** The characters drawn here, written out by hand (not read from the font table): 5 rows of 3 pixels. */
const EXPECTED: Record<string, string[]> = {
  T: ['###', '.#.', '.#.', '.#.', '.#.'],
  '1': ['.#.', '##.', '.#.', '.#.', '###'],
  '7': ['###', '..#', '.#.', '.#.', '.#.'],
  X: ['#.#', '#.#', '.#.', '#.#', '#.#'],
};

type Png = { width: number; height: number; data: Buffer };
const px = (png: Png, x: number, y: number): number[] =>
  Array.from(png.data.subarray((y * png.width + x) * 4, (y * png.width + x) * 4 + 3));

/** Every pixel of the 3fs x 5fs box at (x, y) is `colour` where the hand-written bitmap has ink, background elsewhere. */
function expectChar(png: Png, x: number, y: number, ch: string, fs: number, colour: readonly number[], bg = 255): void {
  const rows = EXPECTED[ch];
  for (let yy = 0; yy < 5 * fs; yy++)
    for (let xx = 0; xx < 3 * fs; xx++) {
      const ink = rows[Math.floor(yy / fs)][Math.floor(xx / fs)] === '#';
      expect(px(png, x + xx, y + yy), `${ch} at (${xx}, ${yy})`).to.deep.equal(ink ? [...colour] : [bg, bg, bg]);
    }
}

describe('image grid labels and captions', () => {
  it('labels each row and captions each image with its prediction, green when right and red when wrong', () => {
    const before = tf.memory().numTensors;
    const a = tf.fill([2, 4, 4, 3], 0.5) as tf.Tensor4D;
    const b = tf.zeros([2, 4, 4, 3]) as tf.Tensor4D;
    const png = PNG.sync.read(
      imageGridPng([a, b], {
        padding: 1,
        scale: 2,
        rowLabels: ['T', '1'],
        captions: [null, predictionCaptions([7, 3], [7, 5], ['0', '1', '2', 'X', '4', '5', '6', '7'])],
      }),
    );
    // Label strip 1 char x 4 font px x 2 + padding = 9 px; 2 cells of 8 px and 3 paddings; rows of
    // 8 px images + a 7 font px (14 px) caption band.
    expect([png.width, png.height]).to.deep.equal([9 + 2 * 8 + 3, 2 * (8 + 14) + 3]);
    expectChar(png, 1, 1, 'T', 2, GRID_TEXT_COLOURS.label);
    expectChar(png, 1, 24, '1', 2, GRID_TEXT_COLOURS.label);
    // Images start after the label strip.
    expect(px(png, 10, 1)).to.deep.equal([128, 128, 128]);
    expect(px(png, 19 + 7, 1 + 7)).to.deep.equal([128, 128, 128]);
    expect(px(png, 19, 24)).to.deep.equal([0, 0, 0]);
    expect(px(png, 9, 1)).to.deep.equal([255, 255, 255]);
    // Captions under row 1: class 7 (label 7: correct, green), class 3 shown by name 'X' (label 5: wrong, red).
    expectChar(png, 10, 34, '7', 2, [0, 128, 0]);
    expectChar(png, 19, 34, 'X', 2, [200, 0, 0]);
    // Row 0 has no captions: its band is background.
    for (let y = 9; y < 23; y++) for (let x = 10; x < 27; x++) expect(px(png, x, y)).to.deep.equal([255, 255, 255]);
    tf.dispose([a, b]);
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('draws unknown characters as ?, keeps the plain layout without text, and names mismatched lengths', () => {
    expect(glyph('t')).to.deep.equal(glyph('T'));
    expect(glyph('§')).to.deep.equal(glyph('?'));
    expect(glyph(' ').some(Boolean)).to.equal(false);
    expect(predictionCaptions([1, 2], [1, 1])).to.deep.equal([
      { text: '1', correct: true },
      { text: '2', correct: false },
    ]);
    expect(predictionCaptions([4])).to.deep.equal([{ text: '4' }]);
    const a = tf.fill([3, 4, 4, 1], 0.25) as tf.Tensor4D;
    const plain = PNG.sync.read(imageGridPng([a], { padding: 1, scale: 2 }));
    expect([plain.width, plain.height]).to.deep.equal([3 * 8 + 4, 8 + 2]);
    expect(() => imageGridPng([a, a], { rowLabels: ['x'] })).to.throw(/rowLabels has 1 labels for 2 rows/);
    expect(() => imageGridPng([a], { captions: [predictionCaptions([1, 2])] })).to.throw(/captions\[0\] has 2 captions for 3 images/);
    expect(() => imageGridPng([a], { captions: [] })).to.throw(/captions has 0 rows for 1 rows/);
    a.dispose();
  });
});
