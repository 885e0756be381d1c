/**
 * Study pages of the leaderboard site: a study definition file (`schema/study.schema.json`) names the
 * leaderboard entries (by id, in one dataset and threat model) that fill a DW-box table, an ADDT
 * comparison and a list of baselines, the orderings of robust accuracy to check, and the figures to
 * show. The page is rendered from whatever entries exist when the site is built: a cell whose entry
 * does not exist (yet) says "not finished" and never shows a number.
 *
 * Ordering checks use the entries' robust accuracy (Avg.Rob, `results.robust`) and its 95% Wilson
 * interval (`orderingVerdict`). Escaping follows the site's rule: every string from a study or an entry
 * goes through `esc`; descriptions are plain text where `text between backticks` becomes `<code>`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError, LIMITS, readJsonChecked, validateSchema, type JsonSchema } from '@dbp-bench/core';
import type { LeaderboardEntry, Metric } from './entry';
import { esc, num, page } from './html';

/** Path of the published JSON Schema of a study definition. */
export const STUDY_SCHEMA_FILE = path.resolve(__dirname, '../../schema/study.schema.json');

let schemaCache: JsonSchema | undefined;
/** The study definition JSON Schema (draft-07). */
export function studySchema(): JsonSchema {
  if (!schemaCache) schemaCache = JSON.parse(fs.readFileSync(STUDY_SCHEMA_FILE, 'utf8')) as JsonSchema;
  return schemaCache;
}

/** The DW-box table's columns, in order: key in a row's `cells`, and header. */
export const DW_BOX_COLUMNS = Object.freeze([
  { key: 'whiteBox', label: 'white-box' },
  { key: 'dwFwd', label: 'DW_Fwd' },
  { key: 'dwRev', label: 'DW_Rev' },
  { key: 'dwBoth', label: 'DW_Both' },
] as const);
export type DwBoxColumn = (typeof DW_BOX_COLUMNS)[number]['key'];

export interface OrderingCheck {
  higher: string;
  lower: string;
  claim: string;
  relation?: '>' | '>=';
}

/** A study definition (the shape of `schema/study.schema.json`). */
export interface StudyDefinition {
  schemaVersion: 1;
  id: string;
  title: string;
  dataset: string;
  threatModel: string;
  description: string[];
  protocol: string[];
  dwBox: { note?: string; rows: { label: string; note?: string; cells: Partial<Record<DwBoxColumn, string>> }[] };
  addt: { note?: string; rows: { defense: string; attack: string; vanilla: string; addt: string }[] };
  baselines: { label: string; entry: string }[];
  checks: OrderingCheck[];
  figures: { file: string; caption: string }[];
}

/** A study read from its file, with each figure's real path (checked to lie inside the study's directory). */
export interface LoadedStudy {
  file: string;
  study: StudyDefinition;
  figures: { source: string; file: string; caption: string }[];
}

/** Validate a study definition against its schema; throws ConfigValidationError naming `what` and each field. */
export function validateStudy(data: unknown, what = 'study definition'): StudyDefinition {
  const s = validateSchema<StudyDefinition>(studySchema(), data, what) as unknown as StudyDefinition;
  const problems: string[] = [];
  const figures = new Map<string, number>();
  s.figures.forEach((f, i) => {
    if (figures.has(f.file)) problems.push(`$.figures[${i}].file: ${JSON.stringify(f.file)} is already $.figures[${figures.get(f.file)}]`);
    figures.set(f.file, i);
  });
  s.checks.forEach((c, i) => {
    if (c.higher === c.lower) problems.push(`$.checks[${i}]: higher and lower are the same entry ${JSON.stringify(c.higher)}`);
  });
  if (problems.length) throw new ConfigValidationError(what, problems);
  return s;
}

/**
 * Read a study definition file (at most LIMITS.configBytes), validate it, and resolve its figures
 * relative to the file: each must exist, be a regular file and lie inside the study file's directory
 * once symbolic links are resolved; otherwise a DataFormatError naming the file and `$.figures[i].file`.
 */
export function readStudy(file: string): LoadedStudy {
  const study = validateStudy(readJsonChecked(file, 'a study definition JSON file', LIMITS.configBytes, 'config'), file);
  const dir = fs.realpathSync(path.dirname(path.resolve(file)));
  const figures = study.figures.map((f, i) => {
    const where = `$.figures[${i}].file`;
    const lexical = path.resolve(dir, f.file);
    if (!fs.existsSync(lexical))
      throw new DataFormatError(
        file,
        `${where}: ${JSON.stringify(f.file)} does not exist (expected ${lexical}, relative to the study file)`,
      );
    const real = fs.realpathSync(lexical);
    const rel = path.relative(dir, real);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel))
      throw new DataFormatError(
        file,
        `${where}: ${JSON.stringify(f.file)} resolves to ${real}, outside the study's directory ${dir} (a symbolic link)`,
      );
    if (!fs.statSync(real).isFile()) throw new DataFormatError(file, `${where}: ${JSON.stringify(f.file)} is not a regular file`);
    return { source: real, file: f.file, caption: f.caption };
  });
  return { file, study, figures };
}

/** Every entry id a study names (cells, pairs, baselines, checks), each once, in order of appearance. */
export function studyEntryIds(s: StudyDefinition): string[] {
  const ids = [
    ...s.dwBox.rows.flatMap((r) => DW_BOX_COLUMNS.map((c) => r.cells[c.key]).filter((x): x is string => x !== undefined)),
    ...s.addt.rows.flatMap((r) => [r.vanilla, r.addt]),
    ...s.baselines.map((b) => b.entry),
    ...s.checks.flatMap((c) => [c.higher, c.lower]),
  ];
  return [...new Set(ids)];
}

export type OrderingVerdict = 'separated' | 'overlap' | 'reversed' | 'not-finished';

/** The words shown for each verdict. */
export const VERDICT_TEXT: Readonly<Record<OrderingVerdict, string>> = Object.freeze({
  separated: 'holds, intervals separated',
  overlap: 'holds on the point estimates, intervals overlap (n too small to tell)',
  reversed: 'does not hold',
  'not-finished': 'not finished',
});

/**
 * Whether `higher` > `lower` (or >= with relation '>='), from two robust accuracies with their 95%
 * intervals: not finished when either is missing; `separated` when the ordering holds and the higher
 * one's lower bound exceeds the other's upper bound; `overlap` when it holds on the point estimates
 * only (or an interval is not recorded); `reversed` when it does not hold. `detail` says why, in words.
 */
export function orderingVerdict(
  higher: Metric | null | undefined,
  lower: Metric | null | undefined,
  relation: '>' | '>=' = '>',
): { verdict: OrderingVerdict; detail: string } {
  if (!higher || !lower) {
    const detail = !higher && !lower ? 'neither cell has a result yet' : `the ${!higher ? 'higher' : 'lower'} cell has no result yet`;
    return { verdict: 'not-finished', detail };
  }
  const holds = relation === '>=' ? higher.value >= lower.value : higher.value > lower.value;
  const both = higher.ci && lower.ci;
  if (!holds) {
    const sep = both && lower.ci!.lower > higher.ci!.upper;
    return {
      verdict: 'reversed',
      detail: sep
        ? 'the other way round, with separated intervals'
        : higher.value === lower.value
          ? 'equal point estimates'
          : 'the other way round on the point estimates, intervals overlap',
    };
  }
  if (!both)
    return { verdict: 'overlap', detail: 'holds on the point estimates; an interval is not recorded, so separation cannot be told' };
  if (higher.ci!.lower > lower.ci!.upper) return { verdict: 'separated', detail: `${num(higher.ci!.lower)} > ${num(lower.ci!.upper)}` };
  return { verdict: 'overlap', detail: `${num(higher.ci!.lower)} <= ${num(lower.ci!.upper)}` };
}

/** An entry the site has a page for, as a study page sees it. */
export interface StudyCellEntry {
  /** Link to the entry page, relative to the site's top. */
  href: string;
  entry: LeaderboardEntry;
}

/** Plain text with `code` spans: escaped, backtick pairs become <code>. */
function richText(text: string): string {
  return text
    .split('`')
    .map((part, i) => (i % 2 === 1 ? `<code>${esc(part)}</code>` : esc(part)))
    .join('');
}

function pct(m: Metric | null | undefined): string {
  return m ? num(m.value) : '–';
}
function ci(m: Metric | null | undefined): string {
  return m?.ci ? `[${num(m.ci.lower)}, ${num(m.ci.upper)}]` : '';
}

/** Where the study's figures go in the site, relative to its top. */
export function studyFigureDir(s: StudyDefinition): string {
  return `studies/${s.id}`;
}

/** The page name of a study in the site. */
export function studyPageName(s: StudyDefinition): string {
  return `study-${s.id}.html`;
}

/**
 * The study page (at the site's top level). `resolve` gives the entry of an id in the study's dataset
 * and threat model, or null when there is none (the cell is not finished).
 */
export function studyPage(loaded: LoadedStudy, resolve: (id: string) => StudyCellEntry | null, now: Date): string {
  const s = loaded.study;
  const named = studyEntryIds(s);
  const finished = named.filter((id) => resolve(id) !== null).length;
  const cell = (id: string | undefined): string => {
    if (id === undefined) return `<td class="cell num none" title="not part of this study">–</td>`;
    const c = resolve(id);
    if (!c) return `<td class="cell num pending" data-entry="${esc(id)}"><span class="pending">not finished</span></td>`;
    const r = c.entry.results;
    const n = r.robust?.n ?? c.entry.dataset.n ?? null;
    return `<td class="cell num" data-entry="${esc(id)}"><a href="${esc(c.href)}" title="${esc(c.entry.name)}">${pct(r.robust)}</a><span class="ci">${ci(r.robust)}</span><span class="sub">Wor ${pct(r.robustWorst)} · clean ${pct(r.clean)} · n ${n ?? '–'}</span></td>`;
  };
  const verdictCell = (higher: string, lower: string, relation: '>' | '>=' = '>'): string => {
    const v = orderingVerdict(resolve(higher)?.entry.results.robust, resolve(lower)?.entry.results.robust, relation);
    return `<td class="verdict ${v.verdict}"><span class="verdict ${v.verdict}">${esc(VERDICT_TEXT[v.verdict])}</span><span class="sub">${esc(v.detail)}</span></td>`;
  };
  const legend = `<p class="small muted">Each cell: robust accuracy % (Avg.Rob: the mean fraction of the R final purifications that classify the attacked example correctly) with its 95% Wilson interval; below it Wor.Rob % (all R draws correct), clean % and n. Each number links the entry page. A cell without an entry yet says <i>not finished</i>.</p>`;

  const dwHead = `<tr><th>Defense / model</th>${DW_BOX_COLUMNS.map((c) => `<th class="num">${esc(c.label)}</th>`).join('')}</tr>`;
  const dwRows = s.dwBox.rows
    .map(
      (r) =>
        `<tr><td class="label">${esc(r.label)}${r.note ? `<span class="sub">${richText(r.note)}</span>` : ''}</td>${DW_BOX_COLUMNS.map((c) => cell(r.cells[c.key])).join('')}</tr>`,
    )
    .join('\n');
  const dwBox = `<h2 id="dw-box">DW-box table</h2>
${s.dwBox.note ? `<p>${richText(s.dwBox.note)}</p>` : ''}
<div class="table-wrap"><table class="study dw-box"><thead>${dwHead}</thead><tbody>
${dwRows}
</tbody></table></div>`;

  const addt = s.addt.rows.length
    ? `<h2 id="addt">ADDT comparison</h2>
${s.addt.note ? `<p>${richText(s.addt.note)}</p>` : ''}
<div class="table-wrap"><table class="study addt"><thead><tr><th>Defense</th><th>Attack</th><th class="num">vanilla</th><th class="num">ADDT</th><th>ADDT &gt;= vanilla?</th></tr></thead><tbody>
${s.addt.rows.map((r) => `<tr><td class="label">${esc(r.defense)}</td><td>${esc(r.attack)}</td>${cell(r.vanilla)}${cell(r.addt)}${verdictCell(r.addt, r.vanilla, '>=')}</tr>`).join('\n')}
</tbody></table></div>`
    : '';

  const baselines = s.baselines.length
    ? `<h2 id="baselines">Baselines</h2>
<div class="table-wrap"><table class="study baselines"><thead><tr><th>Baseline</th><th class="num">robust %</th></tr></thead><tbody>
${s.baselines.map((b) => `<tr><td class="label">${esc(b.label)}</td>${cell(b.entry)}</tr>`).join('\n')}
</tbody></table></div>`
    : '';

  const checks = s.checks.length
    ? `<h2 id="checks">Ordering checks</h2>
<p class="small muted">From the robust accuracies (Avg.Rob) and their 95% Wilson intervals: <i>${esc(VERDICT_TEXT.separated)}</i> when the higher cell's lower bound exceeds the other's upper bound; <i>${esc(VERDICT_TEXT.overlap)}</i> when only the point estimates are ordered; <i>${esc(VERDICT_TEXT.reversed)}</i> when they are not; <i>${esc(VERDICT_TEXT['not-finished'])}</i> while either cell has no entry.</p>
<div class="table-wrap"><table class="study checks-table"><thead><tr><th>Claim</th><th class="num">higher</th><th class="num">lower</th><th>Verdict</th></tr></thead><tbody>
${s.checks.map((c) => `<tr><td class="label">${esc(c.claim)}</td>${cell(c.higher)}${cell(c.lower)}${verdictCell(c.higher, c.lower, c.relation)}</tr>`).join('\n')}
</tbody></table></div>`
    : '';

  const dir = studyFigureDir(s);
  const figures = loaded.figures.length
    ? `<h2 id="figures">Figures</h2>
${loaded.figures
  .map((f) => {
    const src = `${dir}/${f.file}`;
    const img = `<img src="${esc(src)}" alt="${esc(f.caption.replace(/`/g, ''))}">`;
    // a raster image links to itself (full size on a phone); an SVG is only shown through <img>, where
    // its scripts cannot run (opened as a document of its own, they could)
    const shown = f.file.endsWith('.svg') ? img : `<a href="${esc(src)}">${img}</a>`;
    return `<figure class="study-fig">${shown}<figcaption>${richText(f.caption)}</figcaption></figure>`;
  })
  .join('\n')}`
    : '';

  const body = `<p><a href="index.html">← leaderboard</a></p>
<h1>${esc(s.title)}</h1>
<p class="muted">${esc(s.dataset)} — ${esc(s.threatModel)} — ${finished} of ${named.length} cells finished (built ${esc(now.toISOString())})</p>
${s.description.map((d) => `<p>${richText(d)}</p>`).join('\n')}
${s.protocol.length ? `<h2 id="protocol">Protocol</h2><ul class="protocol">${s.protocol.map((l) => `<li>${richText(l)}</li>`).join('')}</ul>` : ''}
${legend}
${dwBox}
${addt}
${baselines}
${checks}
${figures}`;
  return page(`${s.title} — study`, body, '');
}
