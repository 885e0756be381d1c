/**
 * Entry-page plots and tables of randomized-defense metrics (ALGORITHMS.md §14.4), as inline SVG
 * (no scripts, no external resources): robust accuracy against attack iteration
 * (`results.attacks[].curve`), the per-draw histograms of the R purifications (`results.cleanHistogram`,
 * `results.attacks[].histogram`), and a table of single / Avg.Rob / Wor.Rob / majority / any-iteration
 * with intervals. Every field is optional: an entry without them gets none of these.
 */
import type { DrawHistogram, LeaderboardEntry, Metric } from './entry';
import { esc, num } from './html';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** "Nice" axis ticks from 0 to max. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

/**
 * Grid, tick labels, axes and axis titles of a plot whose y axis is a percentage (0–100, a line every
 * 20): vertical grid lines at `xTicks`, the x axis from `xMin` to `xMax`. `xTickPos` writes the x
 * coordinate of a tick (default: the number as is). Returns the SVG elements, in drawing order.
 */
export function percentAxes(o: {
  x: (v: number) => number;
  y: (v: number) => number;
  xTicks: readonly number[];
  xMin: number;
  xMax: number;
  height: number;
  xLabel: string;
  yLabel: string;
  xTickPos?: (v: number) => string;
}): string[] {
  const { x, y } = o;
  const xt = o.xTickPos ?? ((v: number): string => String(x(v)));
  const parts: string[] = [];
  for (const v of o.xTicks) {
    parts.push(`<line class="grid" x1="${xt(v)}" y1="${y(0)}" x2="${xt(v)}" y2="${y(100)}"/>`);
    parts.push(`<text x="${xt(v)}" y="${y(0) + 14}" text-anchor="middle">${v}</text>`);
  }
  for (let v = 0; v <= 100; v += 20) {
    parts.push(`<line class="grid" x1="${x(o.xMin)}" y1="${y(v)}" x2="${x(o.xMax)}" y2="${y(v)}"/>`);
    parts.push(`<text x="${x(o.xMin) - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  parts.push(
    `<line class="axis" x1="${x(o.xMin)}" y1="${y(0)}" x2="${x(o.xMax)}" y2="${y(0)}"/><line class="axis" x1="${x(o.xMin)}" y1="${y(0)}" x2="${x(o.xMin)}" y2="${y(100)}"/>`,
  );
  parts.push(`<text x="${(x(o.xMin) + x(o.xMax)) / 2}" y="${o.height - 6}" text-anchor="middle">${o.xLabel}</text>`);
  parts.push(`<text transform="translate(12 ${(y(0) + y(100)) / 2}) rotate(-90)" text-anchor="middle">${o.yLabel}</text>`);
  return parts;
}

/**
 * Robust accuracy (%) against attack iteration: per attack an Avg.Rob line (solid) and a Wor.Rob line
 * (dashed), the end point of each labelled with its value; iterations as recorded. Empty string when no
 * attack has a curve.
 */
export function robustnessCurvePlot(e: LeaderboardEntry): string {
  const curves = e.results.attacks.filter((a) => a.curve && a.curve.iteration.length > 0);
  if (!curves.length) return '';
  const W = 560,
    H = 320,
    L = 50,
    R = 90,
    T = 14,
    B = 42;
  const maxIt = Math.max(1, ...curves.flatMap((a) => a.curve!.iteration));
  const x = (v: number): number => L + ((W - L - R) * v) / maxIt;
  const y = (v: number): number => H - B - ((H - T - B) * v) / 100;
  const parts = percentAxes({
    x,
    y,
    xTicks: ticks(maxIt),
    xMin: 0,
    xMax: maxIt,
    height: H,
    xLabel: 'attack iteration',
    yLabel: 'robust accuracy (%)',
    xTickPos: (v) => x(v).toFixed(1),
  });
  const legend: string[] = [];
  curves.forEach((a, k) => {
    const c = a.curve!;
    const color = COLORS[k % COLORS.length];
    const line = (vals: number[], cls: string, label: string): void => {
      const n = Math.min(c.iteration.length, vals.length);
      if (!n) return;
      const pts = Array.from({ length: n }, (_, i) => `${x(c.iteration[i]).toFixed(1)},${y(vals[i]).toFixed(1)}`).join(' ');
      parts.push(`<polyline class="${cls}" stroke="${color}" points="${pts}"><title>${esc(`${a.name} ${label}`)}</title></polyline>`);
      // A marker per recorded iteration while they stay apart; long runs show the line and its ends.
      for (let i = 0; i < n; i++)
        if (n <= 40 || i === 0 || i === n - 1)
          parts.push(
            `<circle class="pt" fill="${color}" cx="${x(c.iteration[i]).toFixed(1)}" cy="${y(vals[i]).toFixed(1)}" r="2.5"><title>${esc(`${a.name} ${label}, iteration ${c.iteration[i]}: ${num(vals[i])}%`)}</title></circle>`,
          );
      const last = n - 1;
      parts.push(
        `<text class="pt-label" x="${(x(c.iteration[last]) + 5).toFixed(1)}" y="${(y(vals[last]) + 4).toFixed(1)}" fill="${color}">${esc(`${label} ${num(vals[last], 1)}`)}</text>`,
      );
    };
    line(c.avgRob, 'avg', 'Avg.Rob');
    line(c.worRob, 'wor', 'Wor.Rob');
    legend.push(
      `<span><svg class="swatch" viewBox="0 0 12 12" width="12" height="12"><rect width="12" height="12" fill="${color}"/></svg> ${esc(a.name)}</span>`,
    );
  });
  return `<figure class="plot"><svg class="curve" viewBox="0 0 ${W} ${H}" role="img" aria-label="robust accuracy against attack iteration">${parts.join('')}</svg>
<figcaption class="legend small muted">${legend.join('')}<span>solid: Avg.Rob, dashed: Wor.Rob (any-iteration counts up to each iteration, percent of all n samples; iteration 0 = starting point)</span></figcaption></figure>`;
}

/** One histogram panel: bars of counts[c] for c = 0..draws, each labelled with its count. */
function histogramPanel(title: string, h: DrawHistogram, color: string): string {
  const W = 260,
    H = 170,
    L = 34,
    R = 8,
    T = 22,
    B = 32;
  const max = Math.max(1, ...h.counts);
  const n = h.counts.length;
  const bw = (W - L - R) / n;
  const y = (v: number): number => H - B - ((H - T - B) * v) / max;
  const parts: string[] = [`<text class="title" x="${W / 2}" y="13" text-anchor="middle">${esc(title)}</text>`];
  for (const v of ticks(max, 4)) {
    parts.push(`<line class="grid" x1="${L}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}"/>`);
    parts.push(`<text x="${L - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`);
  }
  h.counts.forEach((c, i) => {
    const x0 = L + i * bw;
    parts.push(
      `<rect fill="${color}" x="${(x0 + 1).toFixed(1)}" y="${y(c).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(y(0) - y(c)).toFixed(1)}"><title>${esc(`${i} of ${h.draws} draws correct: ${c} samples`)}</title></rect>`,
    );
    if (c > 0)
      parts.push(`<text class="bar-label" x="${(x0 + bw / 2).toFixed(1)}" y="${(y(c) - 2).toFixed(1)}" text-anchor="middle">${c}</text>`);
    if (n <= 12 || i === 0 || i === n - 1 || i % Math.ceil(n / 8) === 0)
      parts.push(`<text x="${(x0 + bw / 2).toFixed(1)}" y="${y(0) + 12}" text-anchor="middle">${i}</text>`);
  });
  parts.push(`<line class="axis" x1="${L}" y1="${y(0)}" x2="${W - R}" y2="${y(0)}"/>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">draws correct (of ${h.draws})</text>`);
  return `<svg class="hist" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`${title}: samples by number of correct draws`)}">${parts.join('')}</svg>`;
}

/** The per-draw histograms: clean, then each attack that recorded one. Empty string when none. */
export function drawHistogramPlot(e: LeaderboardEntry): string {
  const panels: string[] = [];
  if (e.results.cleanHistogram) panels.push(histogramPanel('clean', e.results.cleanHistogram, '#7f7f7f'));
  e.results.attacks.forEach((a, k) => {
    if (a.histogram) panels.push(histogramPanel(`after ${a.name}`, a.histogram, COLORS[k % COLORS.length]));
  });
  if (!panels.length) return '';
  return `<div class="hists">${panels.join('')}</div>
<p class="small muted">Samples by how many of the R final purifications classify them correctly (y: samples; bars labelled with counts). Mass at R: robust under every draw; in between: a randomized defense that an attacker wins on some draws.</p>`;
}

function cell(m: Metric | null | undefined): string {
  if (!m) return '<td class="num muted">–</td>';
  return `<td class="num">${num(m.value)}${m.ci ? `<span class="ci">[${num(m.ci.lower)}, ${num(m.ci.upper)}]</span>` : ''}</td>`;
}

/**
 * single / Avg.Rob / Wor.Rob / majority / any-iteration (Avg.Rob, Wor.Rob) for clean, each attack and the
 * final robust result, with 95% intervals; '' when the entry records none of the single, worst, majority
 * or any-iteration fields.
 */
export function drawMetricsTable(e: LeaderboardEntry): string {
  const r = e.results;
  const any =
    r.cleanSingle ||
    r.cleanMajority ||
    r.cleanWorstOfR ||
    r.robustSingle ||
    r.robustWorst ||
    r.robustMajority ||
    r.robustAnyIteration ||
    r.attacks.some((a) => a.single || a.worstOfR || a.majorityOfR || a.anyIteration);
  if (!any) return '';
  const rows: string[] = [];
  rows.push(
    `<tr><td>clean</td>${cell(r.cleanSingle)}${cell(r.clean)}${cell(r.cleanWorstOfR)}${cell(r.cleanMajority)}${cell(null)}${cell(null)}</tr>`,
  );
  for (const a of r.attacks)
    rows.push(
      `<tr><td>after ${esc(a.name)}</td>${cell(a.single)}${cell(a.accuracy)}${cell(a.worstOfR)}${cell(a.majorityOfR)}${cell(a.anyIteration?.avgRob)}${cell(a.anyIteration?.worRob)}</tr>`,
    );
  rows.push(
    `<tr class="total"><td>robust (final)</td>${cell(r.robustSingle)}${cell(r.robust)}${cell(r.robustWorst)}${cell(r.robustMajority)}${cell(r.robustAnyIteration?.avgRob)}${cell(r.robustAnyIteration?.worRob)}</tr>`,
  );
  const src = r.robustAnyIteration ?? r.attacks.find((a) => a.anyIteration)?.anyIteration;
  return `<div class="table-wrap"><table class="metrics"><thead><tr><th>Evaluation${r.draws ? ` (R = ${r.draws})` : ''}</th><th class="num">Single %</th><th class="num">Avg.Rob %</th><th class="num">Wor.Rob %</th><th class="num">Majority %</th><th class="num">Any-iter Avg.Rob %</th><th class="num">Any-iter Wor.Rob %</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>
<p class="small muted">Single: the first draw correct. Avg.Rob: mean fraction of the R draws correct (the leaderboard's metric). Wor.Rob: all R draws correct. Majority: the majority vote of the R draws correct. Any-iteration: a sample counts as broken if the criterion failed at any iterate of the attack${src ? ` (${esc(src.source === 'eot' ? "the attack's own EoT copies" : `${src.draws ?? '?'} independent draws per iterate`)})` : ''}. Brackets: 95% Wilson intervals.</p>`;
}
