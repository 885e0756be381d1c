/**
 * A hand-written SVG line chart for training curves: one or more stacked panels, each with its own
 * axes, ticks, labels and legend. No dependencies; the output is deterministic for given data.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly color?: string;
}

export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Log-scale y axis ('auto': when every value is positive and they span more than 30x). */
  readonly logY?: boolean | 'auto';
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** About `n` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

/** Render stacked panels sharing an x axis label. */
export function lineChartSvg(
  panels: readonly Panel[],
  opts: { title?: string; xLabel?: string; width?: number; panelHeight?: number } = {},
): string {
  const width = opts.width ?? 720;
  const ph = opts.panelHeight ?? 300;
  const m = { left: 72, right: 150, top: 34, bottom: 46 };
  const titleH = opts.title ? 28 : 0;
  const height = titleH + panels.length * ph;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  if (opts.title)
    out.push(`<text x="${width / 2}" y="19" text-anchor="middle" font-size="14" font-weight="bold">${esc(opts.title)}</text>`);
  panels.forEach((panel, pi) => {
    const y0 = titleH + pi * ph;
    const x1 = m.left;
    const x2 = width - m.right;
    const yt = y0 + m.top;
    const yb = y0 + ph - m.bottom;
    const pts = panel.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    out.push(`<text x="${(x1 + x2) / 2}" y="${y0 + 20}" text-anchor="middle" font-size="12" font-weight="bold">${esc(panel.title)}</text>`);
    out.push(`<rect x="${x1}" y="${yt}" width="${x2 - x1}" height="${yb - yt}" fill="none" stroke="#333"/>`);
    if (!pts.length) {
      out.push(`<text x="${(x1 + x2) / 2}" y="${(yt + yb) / 2}" text-anchor="middle" fill="#888">no data yet</text>`);
      return;
    }
    let xmin = Math.min(...pts.map((p) => p[0]));
    let xmax = Math.max(...pts.map((p) => p[0]));
    if (xmax === xmin) {
      xmin -= 1;
      xmax += 1;
    }
    const ys = pts.map((p) => p[1]);
    const positive = ys.every((v) => v > 0);
    const logY =
      panel.logY === 'auto' || panel.logY === undefined ? positive && Math.max(...ys) / Math.min(...ys) > 30 : panel.logY && positive;
    const tr = (v: number): number => (logY ? Math.log10(v) : v);
    let ymin = Math.min(...ys.map(tr));
    let ymax = Math.max(...ys.map(tr));
    if (ymax === ymin) {
      ymin -= 0.5 * (Math.abs(ymin) || 1);
      ymax += 0.5 * (Math.abs(ymax) || 1);
    }
    const pad = 0.05 * (ymax - ymin);
    ymin -= pad;
    ymax += pad;
    const sx = (x: number): number => x1 + ((x - xmin) / (xmax - xmin)) * (x2 - x1);
    const sy = (v: number): number => yb - ((tr(v) - ymin) / (ymax - ymin)) * (yb - yt);
    // y ticks and grid
    const yticks = logY
      ? niceTicks(Math.ceil(ymin), Math.floor(ymax), 6)
          .filter((e) => Number.isInteger(e))
          .map((e) => Math.pow(10, e))
      : niceTicks(ymin, ymax, 5);
    for (const v of yticks) {
      const y = sy(v);
      if (y < yt - 0.5 || y > yb + 0.5) continue;
      out.push(`<line x1="${x1}" y1="${y.toFixed(1)}" x2="${x2}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`);
      out.push(`<line x1="${x1 - 4}" y1="${y.toFixed(1)}" x2="${x1}" y2="${y.toFixed(1)}" stroke="#333"/>`);
      out.push(`<text x="${x1 - 7}" y="${(y + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
    }
    for (const v of niceTicks(xmin, xmax, 6)) {
      const x = sx(v);
      out.push(`<line x1="${x.toFixed(1)}" y1="${yb}" x2="${x.toFixed(1)}" y2="${yb + 4}" stroke="#333"/>`);
      out.push(`<text x="${x.toFixed(1)}" y="${yb + 16}" text-anchor="middle">${fmt(v)}</text>`);
    }
    out.push(`<text x="${(x1 + x2) / 2}" y="${yb + 36}" text-anchor="middle">${esc(opts.xLabel ?? 'step')}</text>`);
    const cy = (yt + yb) / 2;
    out.push(
      `<text x="16" y="${cy}" text-anchor="middle" transform="rotate(-90 16 ${cy})">${esc(panel.yLabel)}${logY ? ' (log)' : ''}</text>`,
    );
    panel.series.forEach((s, si) => {
      const color = s.color ?? PALETTE[si % PALETTE.length];
      const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
      if (good.length === 1) {
        out.push(`<circle cx="${sx(good[0][0]).toFixed(1)}" cy="${sy(good[0][1]).toFixed(1)}" r="3" fill="${color}"/>`);
      } else if (good.length > 1) {
        const d = good.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
        out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
        if (good.length <= 40)
          for (const [x, y] of good) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2" fill="${color}"/>`);
      }
      const ly = yt + 12 + si * 16;
      out.push(`<line x1="${x2 + 10}" y1="${ly - 4}" x2="${x2 + 28}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
      out.push(`<text x="${x2 + 32}" y="${ly}">${esc(s.name)}</text>`);
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
