import { expect } from 'chai';
import { colormap, figure, sharedRange, type HeatmapPanel } from '../src/analysis/svg';
import { landscapeSvg, type LandscapeReport } from '../src/analysis/landscape';

/** The fill of the cell whose tooltip reads `(x, y): v` in panel order. */
function fills(svg: string): string[] {
  return [...svg.matchAll(/<rect [^>]*fill="(#[0-9a-f]{6})"><title>\(/g)].map((m) => m[1]);
}

const panel = (values: number[][], colorRange?: [number, number]): HeatmapPanel => ({
  kind: 'heatmap',
  title: 't',
  xLabel: 'x',
  yLabel: 'y',
  xs: values.map((_, i) => i),
  ys: values[0].map((_, j) => j),
  values,
  colorLabel: 'loss',
  ...(colorRange ? { colorRange } : {}),
});

describe('heat maps: one colour scale for paired maps', () => {
  it('sharedRange spans every finite value of every map', () => {
    expect(sharedRange([[[1, 2]], [[0.5, NaN, 4]]])).to.deep.equal([0.5, 4]);
    expect(sharedRange([[[NaN]]])).to.deep.equal([0, 1]);
  });

  it('maps a value to one colour in every panel given the same range, and to its own scale without one', () => {
    const left = [[0], [1]];
    const right = [[2], [3]];
    const shared = fills(figure([panel(left, [0, 3]), panel(right, [0, 3])], { title: 'x' }));
    // Hand-computed: t = (v - 0) / 3.
    expect(shared).to.deep.equal([colormap(0), colormap(1 / 3), colormap(2 / 3), colormap(1)]);
    const own = fills(figure([panel(left), panel(right)], { title: 'x' }));
    expect(own).to.deep.equal([colormap(0), colormap(1), colormap(0), colormap(1)]);
    // Values outside a given range are clamped to its ends.
    expect(fills(figure([panel([[-1], [5]], [0, 3])], { title: 'x' }))).to.deep.equal([colormap(0), colormap(1)]);
  });

  it('the landscape figure puts both loss maps on one scale and says so', () => {
    const report = {
      defense: { id: 'dp-ddpm' },
      sample: { index: 3, label: 7 },
      protocol: { eps: 8 / 255, lossDraws: 4 },
      axes: { a: [0, 1], b: [0, 1], unit: 0.5, cosineDwEot: 0.25, residualNorm: 0.1 },
      lossFixedNoise: [
        [0, 1],
        [2, 4],
      ],
      lossFreshNoise: [
        [1, 2],
        [3, 4],
      ],
      trajectories: { dwBox: [[0, 0]], whiteBoxEot: [[0, 0]] },
      notes: [],
    } as unknown as LandscapeReport;
    const svg = landscapeSvg(report);
    const f = fills(svg);
    expect(f).to.have.length(8);
    // The same loss (1, 2, 4) has the same colour in both maps: range [0, 4].
    expect(f.slice(0, 4)).to.deep.equal([0, 1, 2, 4].map((v) => colormap(v / 4)));
    expect(f.slice(4)).to.deep.equal([1, 2, 3, 4].map((v) => colormap(v / 4)));
    expect(svg).to.include('Both maps share one colour scale: cross-entropy 0 (dark) to 4 (bright).');
    expect(svg).to.include('cross-entropy (scale shared with the left map)');
  });
});
