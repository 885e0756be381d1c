/** `dbp-bench data info`: a summary of a dataset split. */
import type { Dataset } from '@dbp-bench/framework';

export interface DatasetSummary {
  id: string;
  split: string;
  size: number;
  shape: [number, number, number];
  numClasses: number;
  classNames: string[];
  /** Images per class, index = class. */
  perClass: number[];
  source: string;
  /** Index 0: its label and pixel (0,0) as 0..255 integers (one value per channel). */
  first: { index: number; label: number; className: string; pixel00: number[] } | null;
}

/**
 * Count, shape, classes, per-class counts (from labels, no image decoding) and the first image's
 * label and pixel (0,0), which decodes exactly one image.
 */
export async function summarizeDataset(dataset: Dataset, chunk = 4096): Promise<DatasetSummary> {
  const info = dataset.info;
  const perClass = new Array<number>(info.numClasses).fill(0);
  for (let s = 0; s < info.size; s += chunk) {
    const idx = Array.from({ length: Math.min(chunk, info.size - s) }, (_, i) => s + i);
    for (const l of await dataset.labels(idx)) perClass[l]++;
  }
  let first: DatasetSummary['first'] = null;
  if (info.size > 0) {
    const b = await dataset.get([0]);
    try {
      const c = info.shape[2];
      const px = b.images.slice([0, 0, 0, 0], [1, 1, 1, c]);
      const v = px.dataSync();
      px.dispose();
      first = {
        index: 0,
        label: b.labels[0],
        className: info.classNames[b.labels[0]] ?? String(b.labels[0]),
        pixel00: Array.from(v, (x) => Math.round(x * 255)),
      };
    } finally {
      b.images.dispose();
    }
  }
  return {
    id: info.id,
    split: info.split,
    size: info.size,
    shape: [info.shape[0], info.shape[1], info.shape[2]],
    numClasses: info.numClasses,
    classNames: info.classNames.slice(),
    perClass,
    source: info.source,
    first,
  };
}

/** Plain-text rendering of a summary. */
export function formatSummary(s: DatasetSummary): string {
  const lines = [
    `dataset:   ${s.id}`,
    `split:     ${s.split}`,
    `source:    ${s.source}`,
    `count:     ${s.size}`,
    `shape:     ${s.shape.join('x')} (HxWxC, float32 in [0,1])`,
    `classes:   ${s.numClasses}`,
  ];
  if (s.first) {
    lines.push(
      `first:     index ${s.first.index}, label ${s.first.label} (${s.first.className}), pixel (0,0) = (${s.first.pixel00.join(',')}) in 0..255`,
    );
  }
  lines.push('per class:');
  const w = String(s.numClasses - 1).length;
  const wName = Math.max(0, ...s.perClass.map((_, c) => (s.classNames[c] ?? '').length));
  const wCount = Math.max(...s.perClass.map((n) => String(n).length));
  s.perClass.forEach((n, c) =>
    lines.push(`  ${String(c).padStart(w)}  ${(s.classNames[c] ?? '').padEnd(wName)}  ${String(n).padStart(wCount)}`.trimEnd()),
  );
  return lines.join('\n');
}
