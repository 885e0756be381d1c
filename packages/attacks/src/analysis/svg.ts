/**
 * Minimal self-contained SVG plots (no dependencies): line/scatter panels and heatmap panels with
 * axes, ticks, labels, legends and a colour bar, laid out side by side in one figure.
 */
import { formatNumber } from '@dbp-bench/framework';

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color: string;
  readonly width?: number;
  readonly dashed?: boolean;
  /** Draw a dot at every point. */
  readonly markers?: boolean;
  readonly opacity?: number;
  /** Leave out of the legend (e.g. the 2nd..10th run of a group). */
  readonly hideInLegend?: boolean;
}

export interface LinePanel {
  readonly kind: 'line';
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
}

export interface HeatmapPanel {
  readonly kind: 'heatmap';
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Cell centres along x and y. */
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  /** values[i][j] at (xs[i], ys[j]). */
  readonly values: readonly (readonly number[])[];
  readonly colorLabel: string;
  /**
   * The values at the two ends of the colour scale (default: this map's own minimum and maximum).
   * Give maps that are compared side by side one range (`sharedRange`), so one colour means one value.
   */
  readonly colorRange?: readonly [number, number];
  /** Lines drawn over the map (in data coordinates). */
  readonly overlays?: readonly Series[];
}

export type Panel = LinePanel | HeatmapPanel;

const PANEL_W = 420;
const PANEL_H = 340;
const M = { left: 62, right: 20, top: 34, bottom: 50 };
const COLORBAR_W = 64;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick and tooltip labels: short (two significant digits in exponent notation), never rounded to zero. */
function fmt(v: number): string {
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? formatNumber(v, 2) : formatNumber(v);
}

/** "Nice" tick values covering [lo, hi] (1-2-5 steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function extent(values: number[], pad = 0.05): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

/** Viridis-like colour for t in [0, 1]. */
export function colormap(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  const ch = (s: string, k: number): number => parseInt(s.slice(1 + 2 * k, 3 + 2 * k), 16);
  const mix = (k: number): string =>
    Math.round(ch(a, k) + (ch(b, k) - ch(a, k)) * f)
      .toString(16)
      .padStart(2, '0');
  return `#${mix(0)}${mix(1)}${mix(2)}`;
}

interface Frame {
  x0: number;
  y0: number;
  w: number;
  h: number;
  sx: (v: number) => number;
  sy: (v: number) => number;
}

function axes(
  out: string[],
  f: Frame,
  xr: [number, number],
  yr: [number, number],
  p: { title: string; xLabel: string; yLabel: string },
): void {
  const { x0, y0, w, h } = f;
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#333" stroke-width="1"/>`);
  for (const t of niceTicks(xr[0], xr[1])) {
    const X = f.sx(t);
    if (X < x0 - 0.5 || X > x0 + w + 0.5) continue;
    out.push(`<line x1="${X.toFixed(1)}" y1="${y0 + h}" x2="${X.toFixed(1)}" y2="${y0 + h + 5}" stroke="#333"/>`);
    out.push(`<text x="${X.toFixed(1)}" y="${y0 + h + 17}" font-size="11" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(yr[0], yr[1])) {
    const Y = f.sy(t);
    if (Y < y0 - 0.5 || Y > y0 + h + 0.5) continue;
    out.push(`<line x1="${x0 - 5}" y1="${Y.toFixed(1)}" x2="${x0}" y2="${Y.toFixed(1)}" stroke="#333"/>`);
    out.push(`<text x="${x0 - 7}" y="${(Y + 4).toFixed(1)}" font-size="11" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<text x="${x0 + w / 2}" y="${y0 + h + 36}" font-size="12" text-anchor="middle">${escapeXml(p.xLabel)}</text>`);
  out.push(
    `<text x="${x0 - 46}" y="${y0 + h / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 ${x0 - 46} ${y0 + h / 2})">${escapeXml(p.yLabel)}</text>`,
  );
  out.push(`<text x="${x0 + w / 2}" y="${y0 - 12}" font-size="13" font-weight="bold" text-anchor="middle">${escapeXml(p.title)}</text>`);
}

function drawSeries(out: string[], f: Frame, s: Series): void {
  const pts = s.points.filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
  if (pts.length === 0) return;
  const d = pts.map(([a, b], i) => `${i === 0 ? 'M' : 'L'}${f.sx(a).toFixed(1)},${f.sy(b).toFixed(1)}`).join(' ');
  const op = s.opacity ?? 1;
  out.push(
    `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width ?? 1.5}" stroke-opacity="${op}"${s.dashed ? ' stroke-dasharray="5,3"' : ''}><title>${escapeXml(s.name)}</title></path>`,
  );
  if (s.markers) {
    for (const [a, b] of pts)
      out.push(`<circle cx="${f.sx(a).toFixed(1)}" cy="${f.sy(b).toFixed(1)}" r="2.2" fill="${s.color}" fill-opacity="${op}"/>`);
  }
}

function legend(out: string[], f: Frame, series: readonly Series[]): void {
  const shown = series.filter((s) => !s.hideInLegend);
  if (shown.length === 0) return;
  const wBox = 34 + 6.2 * Math.max(...shown.map((s) => s.name.length));
  out.push(
    `<rect x="${f.x0 + 3}" y="${f.y0 + 3}" width="${wBox.toFixed(0)}" height="${shown.length * 15 + 4}" fill="#fff" fill-opacity="0.8" stroke="#ccc"/>`,
  );
  shown.forEach((s, i) => {
    const y = f.y0 + 12 + i * 15;
    const x = f.x0 + 8;
    out.push(
      `<line x1="${x}" y1="${y}" x2="${x + 18}" y2="${y}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    out.push(`<text x="${x + 23}" y="${y + 4}" font-size="11">${escapeXml(s.name)}</text>`);
  });
}

function linePanel(out: string[], p: LinePanel, ox: number): void {
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0]));
  const ys = p.series.flatMap((s) => s.points.map((q) => q[1]));
  const xr = extent(xs, 0.03);
  const yr = extent(ys);
  const f: Frame = {
    x0: ox + M.left,
    y0: M.top,
    w: PANEL_W - M.left - M.right,
    h: PANEL_H - M.top - M.bottom,
    sx: (v) => ox + M.left + ((v - xr[0]) / (xr[1] - xr[0])) * (PANEL_W - M.left - M.right),
    sy: (v) => M.top + (1 - (v - yr[0]) / (yr[1] - yr[0])) * (PANEL_H - M.top - M.bottom),
  };
  axes(out, f, xr, yr, p);
  for (const s of p.series) drawSeries(out, f, s);
  legend(out, f, p.series);
}

/** The [min, max] of the finite values of several maps ([0, 1] when there is none): one colour scale for all of them. */
export function sharedRange(maps: readonly (readonly (readonly number[])[])[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of maps)
    for (const row of m)
      for (const v of row) {
        if (!Number.isFinite(v)) continue;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
  return lo <= hi ? [lo, hi] : [0, 1];
}

function heatmapPanel(out: string[], p: HeatmapPanel, ox: number): void {
  const w = PANEL_W - M.left - M.right;
  const h = PANEL_H - M.top - M.bottom;
  const nx = p.xs.length;
  const ny = p.ys.length;
  const half = (a: readonly number[], i: number): number =>
    a.length > 1
      ? (a[Math.min(i + 1, a.length - 1)] - a[Math.max(i - 1, 0)]) / (Math.min(i + 1, a.length - 1) - Math.max(i - 1, 0)) / 2
      : 0.5;
  const xr: [number, number] = [p.xs[0] - half(p.xs, 0), p.xs[nx - 1] + half(p.xs, nx - 1)];
  const yr: [number, number] = [p.ys[0] - half(p.ys, 0), p.ys[ny - 1] + half(p.ys, ny - 1)];
  const f: Frame = {
    x0: ox + M.left,
    y0: M.top,
    w,
    h,
    sx: (v) => ox + M.left + ((v - xr[0]) / (xr[1] - xr[0])) * w,
    sy: (v) => M.top + (1 - (v - yr[0]) / (yr[1] - yr[0])) * h,
  };
  const [lo, hi] = p.colorRange ?? sharedRange([p.values]);
  const norm = (v: number): number => (hi > lo ? Math.min(1, Math.max(0, (v - lo) / (hi - lo))) : 0.5);
  for (let i = 0; i < nx; i++) {
    for (let j = 0; j < ny; j++) {
      const xa = f.sx(p.xs[i] - half(p.xs, i));
      const xb = f.sx(p.xs[i] + half(p.xs, i));
      const ya = f.sy(p.ys[j] + half(p.ys, j));
      const yb = f.sy(p.ys[j] - half(p.ys, j));
      const v = p.values[i][j];
      out.push(
        `<rect x="${xa.toFixed(1)}" y="${ya.toFixed(1)}" width="${(xb - xa + 0.4).toFixed(1)}" height="${(yb - ya + 0.4).toFixed(1)}" fill="${colormap(norm(v))}"><title>(${fmt(p.xs[i])}, ${fmt(p.ys[j])}): ${fmt(v)}</title></rect>`,
      );
    }
  }
  axes(out, f, xr, yr, p);
  out.push(`<clipPath id="clip-${ox}"><rect x="${f.x0}" y="${f.y0}" width="${w}" height="${h}"/></clipPath>`);
  out.push(`<g clip-path="url(#clip-${ox})">`);
  for (const s of p.overlays ?? []) drawSeries(out, f, s);
  out.push('</g>');
  if (p.overlays?.length) legend(out, f, p.overlays);
  // colour bar
  const cx = ox + PANEL_W + 6;
  const steps = 40;
  for (let k = 0; k < steps; k++) {
    const y = M.top + (k / steps) * h;
    out.push(
      `<rect x="${cx}" y="${y.toFixed(1)}" width="14" height="${(h / steps + 0.5).toFixed(1)}" fill="${colormap(1 - (k + 0.5) / steps)}"/>`,
    );
  }
  out.push(`<rect x="${cx}" y="${M.top}" width="14" height="${h}" fill="none" stroke="#333"/>`);
  for (const t of niceTicks(lo, hi, 4)) {
    const y = M.top + (1 - norm(t)) * h;
    out.push(`<text x="${cx + 18}" y="${(y + 4).toFixed(1)}" font-size="10">${fmt(t)}</text>`);
  }
  out.push(
    `<text x="${cx + 52}" y="${M.top + h / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${cx + 52} ${M.top + h / 2})">${escapeXml(p.colorLabel)}</text>`,
  );
}

/** One figure: panels side by side, a title and optional caption lines below. */
export function figure(panels: readonly Panel[], options: { title: string; caption?: readonly string[] }): string {
  const widths = panels.map((p) => PANEL_W + (p.kind === 'heatmap' ? COLORBAR_W : 0));
  const W = widths.reduce((a, b) => a + b, 0) + 10;
  const captions = options.caption ?? [];
  const H = PANEL_H + 30 + captions.length * 15 + 10;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${W / 2}" y="18" font-size="15" font-weight="bold" text-anchor="middle">${escapeXml(options.title)}</text>`);
  out.push(`<g transform="translate(0, 20)">`);
  let ox = 0;
  panels.forEach((p, i) => {
    if (p.kind === 'line') linePanel(out, p, ox);
    else heatmapPanel(out, p, ox);
    ox += widths[i];
  });
  out.push('</g>');
  captions.forEach((c, i) => out.push(`<text x="10" y="${PANEL_H + 36 + i * 15}" font-size="11" fill="#444">${escapeXml(c)}</text>`));
  out.push('</svg>');
  return out.join('\n') + '\n';
}
