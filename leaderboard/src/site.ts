/**
 * The static leaderboard site: `index.html` with one sortable, filterable table and a clean-vs-robust
 * scatter plot (inline SVG) per dataset x threat model, one page per entry (protocol, provenance,
 * downloads), local CSS/JS only. Works from a plain file server and offline.
 *
 * What it publishes: the pages, the assets, each entry as JSON, and each entry's per-sample results
 * file only when its real path (symbolic links resolved) lies inside the entries tree; anything else
 * is a DataFormatError naming the entry file and `$.resultsFile.path`, raised before anything is
 * written. Every file is written atomically.
 *
 * Escaping: every string taken from an entry is HTML-escaped here (`esc`, which also neutralises bidi
 * controls); links are emitted only for absolute http(s) URLs (`link`, the rule of url.ts), so a
 * refused URL is shown as text; entry, dataset and threat-model ids are checked as safe path segments
 * again before they name a file; the client script never parses HTML.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DataFormatError,
  commitDirectory,
  copyFileAtomic,
  sha256,
  sha256File,
  stageDirectory,
  writeFileAtomic,
  silentLogger,
  type Logger,
} from '@dbp-bench/core';
import { SITE_CSS, SITE_JS } from './assets';
import {
  assertUniqueEntryIds,
  idProblems,
  threatLabel,
  type AttackChecks,
  type LeaderboardEntry,
  type LoadedEntry,
  type Metric,
} from './entry';
import { esc, jsonBlock, link, num, page, plainText } from './html';
import { urlProblem } from './url';
import {
  ATTACK_FAMILIES,
  canonicalEps,
  defenseRows,
  rowName,
  sectionKey,
  sectionLabel,
  type AttackCell,
  type DefenseRow,
} from './by-defense';
import { drawHistogramPlot, drawMetricsTable, percentAxes, robustnessCurvePlot } from './plots';
import { studyFigureDir, studyPage, studyPageName, type LoadedStudy, type StudyCellEntry } from './study';

export interface BuildSiteOptions {
  /** Page title. */
  title?: string;
  logger?: Logger;
  /** Time shown as "built at" (default now). */
  now?: Date;
  /**
   * The absolute http(s) URL the site will be served from (e.g. `https://group.github.io/leaderboard/`):
   * with it, `sitemap.xml` lists the index and every entry page; without it no sitemap is written (a
   * sitemap needs absolute URLs, and every link inside the site stays relative either way).
   */
  baseUrl?: string;
  /**
   * Called with the staging directory the site is built in (`<outDir>.tmp-<pid>-...`, next to
   * `outDir`) when it is created, and with null once it was moved into place or removed: a caller that
   * must exit at once (a second Ctrl-C) removes it, and `outDir` keeps the previous site.
   */
  onStaging?: (dir: string | null) => void;
  /**
   * Study pages to add (`readStudy`): each becomes `study-<id>.html`, linked from the index header, with
   * its figures copied into `studies/<id>/`; its cells are looked up among `entries` by id in the
   * study's dataset and threat model (a missing one is shown as not finished).
   */
  studies?: readonly LoadedStudy[];
}

export interface BuildSiteResult {
  index: string;
  pages: string[];
  /** Per-sample results files copied into data/ (each from inside the entries tree). */
  downloads: string[];
  /** `sitemap.xml` when a base URL was given, else null. */
  sitemap: string | null;
  /** The study pages written (`study-<id>.html`). */
  studies: string[];
  warnings: string[];
}

/** What a site holds at its top level: an existing `outDir` is replaced only when it holds nothing else. */
export const SITE_TOP_LEVEL = Object.freeze(['index.html', 'assets', 'entries', 'data', 'studies', '.nojekyll', 'sitemap.xml']);
/** Study pages, also at a site's top level. */
const STUDY_PAGE = /^study-[A-Za-z0-9][A-Za-z0-9._-]*\.html$/;

/**
 * The base URL of a site as written in its sitemap (ending in `/`), or a DataFormatError naming
 * `--base-url` when it is not an absolute http(s) URL (the entry URL rule, `urlProblem`) or carries a
 * query or fragment.
 */
export function siteBaseUrl(raw: string): string {
  const problem = urlProblem(raw);
  if (problem) throw new DataFormatError('--base-url', `${problem}; the sitemap needs the absolute URL the site is served from`);
  const u = new URL(raw);
  if (u.search || u.hash)
    throw new DataFormatError('--base-url', `${JSON.stringify(raw)} has a query or fragment; give the site's folder URL`);
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

/** `sitemap.xml` (sitemaps.org 0.9) of the index, the study pages and the entry pages under `base` (ending in `/`). */
function sitemapXml(base: string, pageIds: readonly string[], studyPages: readonly string[] = []): string {
  const urls = [base, ...studyPages.map((p) => `${base}${p}`), ...pageIds.map((id) => `${base}entries/${id}.html`)];
  return `<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
${urls.map((u) => `<url><loc>${esc(u)}</loc></url>`).join('\n')}
</urlset>
`;
}

/**
 * Refuse to replace `out` unless it does not exist, is empty, or holds only what a site holds
 * (SITE_TOP_LEVEL): a build never deletes files it did not write.
 */
function checkReplaceable(out: string): void {
  if (!fs.existsSync(out) && !isLink(out)) return;
  const st = fs.lstatSync(out);
  if (st.isSymbolicLink()) throw new DataFormatError(out, 'is a symbolic link; give the site directory itself as --out');
  if (!st.isDirectory())
    throw new DataFormatError(out, 'exists and is not a directory; give a new or empty directory, or a previous site, as --out');
  const foreign = fs.readdirSync(out).filter((n) => !SITE_TOP_LEVEL.includes(n) && !STUDY_PAGE.test(n));
  if (foreign.length)
    throw new DataFormatError(
      out,
      `holds files a site does not (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}); the build replaces the whole directory, so give a new or empty directory, or a previous site, as --out`,
    );
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

interface PageEntry {
  pageId: string;
  file?: string;
  entry: LeaderboardEntry;
  /** Real path of the per-sample results file to publish (checked to lie inside the entries tree). */
  results?: string;
}

/**
 * The page (and data file) name of an entry: `<dataset>__<threat>__<id>`, each a safe path segment
 * (checked again here: buildSite also takes entries that did not come through validation); a name over
 * 200 characters is cut and ends in a hash of the whole, so file names stay within 255 bytes.
 */
function pageIdOf(e: LeaderboardEntry, file: string | undefined): string {
  const problems = idProblems(e);
  if (problems.length) throw new DataFormatError(file ?? `leaderboard entry '${String(e.id)}'`, problems.join('; '));
  const id = `${e.dataset.id}__${e.threatModel.id}__${e.id}`;
  return id.length <= 200 ? id : `${id.slice(0, 183)}-${sha256(id).slice(0, 16)}`;
}

/** Whether the real path `p` lies strictly inside the real directory `dir`. */
function inside(dir: string, p: string): boolean {
  const r = path.relative(dir, p);
  return r !== '' && r !== '..' && !r.startsWith(`..${path.sep}`) && !path.isAbsolute(r);
}

/**
 * The real path of the entry file itself: it must lie inside the entries tree `root` (a symbolic link
 * out of the tree is refused).
 */
function checkEntryFile(file: string, root: string): void {
  const real = fs.realpathSync(file);
  if (!inside(fs.realpathSync(root), real)) {
    throw new DataFormatError(
      file,
      `resolves to ${real}, outside the entries directory ${root} (a symbolic link); the site publishes only files inside it`,
    );
  }
}

/**
 * The real path of an entry's per-sample results file when the site may publish it, or null when it
 * does not exist (a warning). Throws DataFormatError naming the entry file and `$.resultsFile.path`
 * when the path is absolute, leads out of the entries tree `root` (`..`), resolves out of it through a
 * symbolic link, or is not a regular file. The one rule for where a results file may be: `leaderboard
 * build` publishes it and `leaderboard validate` re-checks it only from there.
 */
export function publishableResults(file: string, root: string, rel: unknown): string | null {
  const refuse = (why: string): never => {
    throw new DataFormatError(file, `$.resultsFile.path: ${why}; the site publishes only files inside the entries directory ${root}`);
  };
  if (typeof rel !== 'string' || !rel) return refuse(`${JSON.stringify(rel)} is not a file name`);
  if (path.isAbsolute(rel) || path.win32.isAbsolute(rel) || rel.includes('\\') || rel.includes('\0'))
    refuse(`${JSON.stringify(rel)} is not a relative path`);
  const lexical = path.resolve(path.dirname(file), rel);
  if (!inside(path.resolve(root), lexical)) refuse(`${JSON.stringify(rel)} leads outside the entries directory`);
  if (!fs.existsSync(lexical)) return null;
  const real = fs.realpathSync(lexical);
  if (!inside(fs.realpathSync(root), real))
    refuse(`${JSON.stringify(rel)} resolves to ${real} (through a symbolic link), outside the entries directory`);
  if (!fs.statSync(real).isFile()) refuse(`${JSON.stringify(rel)} is not a regular file`);
  return real;
}

function metricText(m: Metric | null | undefined): string {
  return m ? num(m.value) : '–';
}
function ciText(m: Metric | null | undefined): string {
  return m?.ci ? `[${num(m.ci.lower)}, ${num(m.ci.upper)}]` : '–';
}
function attackIds(e: LeaderboardEntry): string[] {
  return [...new Set(e.results.attacks.map((a) => a.id))];
}

function flagBadges(e: LeaderboardEntry): string {
  const b: string[] = [];
  if (e.flags.randomized) b.push('<span class="badge">randomized</span>');
  if (e.flags.reducedProtocol) b.push('<span class="badge warn">reduced protocol</span>');
  if (e.flags.stalledAttack) b.push(`<span class="badge warn stalled" title="${esc(stalledTitle(e))}">stalled attack</span>`);
  if (e.flags.unreliable) b.push('<span class="badge warn">unreliable</span>');
  if (e.flags.additionalData) b.push('<span class="badge">extra data</span>');
  for (const f of e.flags.sanity) b.push(`<span class="badge warn" title="${esc(f.message)}">${esc(f.id)}</span>`);
  return b.join('');
}

/** One line per flagged attack: what its checks found. */
function stalledTitle(e: LeaderboardEntry): string {
  return e.results.attacks
    .filter((a) => a.checks?.flags.length)
    .map((a) => `${a.name}: ${checkSummary(a.checks!)}`)
    .join('; ');
}

function checkSummary(c: AttackChecks): string {
  const parts = [`${c.unmoved} unmoved (${c.gradientVanished} vanished gradients, ${c.stalled} stalled)`];
  if (c.belowBudget !== null) parts.push(`${c.belowBudget} of ${c.robust} counted robust below the budget`);
  return `${parts.join(', ')}${c.flags.length ? ` [${c.flags.join(', ')}]` : ''}`;
}

function groupKey(e: LeaderboardEntry): string {
  return sectionKey(e);
}

type Row = DefenseRow<PageEntry>;

const href = (p: PageEntry, root = ''): string => `${root}entries/${esc(p.pageId)}.html`;

/** Families with at least one result in these rows, in column order. */
function presentFamilies(rows: Row[]): (typeof ATTACK_FAMILIES)[number][] {
  return ATTACK_FAMILIES.filter((f) => rows.some((r) => r.cells.has(f.id)));
}

function familyLabel(id: string): string {
  return ATTACK_FAMILIES.find((f) => f.id === id)?.label ?? id;
}

function rowKind(r: Row): string {
  const kinds = [...new Set(r.entries.map((x) => x.entry.kind))];
  return kinds.length === 1 ? kinds[0] : 'mixed';
}

function rowData(r: Row): string {
  const e = r.entries[0].entry;
  const attacks = [...new Set(r.entries.flatMap((x) => attackIds(x.entry)))];
  return `data-entry="${esc(r.entries[0].page.pageId)}" data-family="${esc(e.defense.family)}" data-kind="${esc(rowKind(r))}" data-attacks="${esc(JSON.stringify(attacks))}"`;
}

function scatter(rows: Row[]): string {
  const W = 420,
    H = 300,
    L = 48,
    R = 12,
    T = 12,
    B = 40;
  // The clean axis starts at the decade below the lowest clean accuracy, so close defenses spread out.
  const cleans = rows.map((r) => r.clean?.metric.value).filter((v): v is number => typeof v === 'number');
  const x0 = Math.max(0, Math.min(80, Math.floor((cleans.length ? Math.min(...cleans) : 0) / 10) * 10 - 10));
  const x = (v: number): number => L + ((W - L - R) * (v - x0)) / (100 - x0);
  const y = (v: number): number => H - B - ((H - T - B) * v) / 100;
  const xStep = 100 - x0 <= 50 ? 10 : 20;
  const xTicks: number[] = [];
  for (let v = x0; v <= 100; v += xStep) xTicks.push(v);
  const parts = percentAxes({
    x,
    y,
    xTicks,
    xMin: x0,
    xMax: 100,
    height: H,
    xLabel: 'clean accuracy (%)',
    yLabel: 'worst-case robust accuracy (%)',
  });
  rows.forEach((r, i) => {
    const c = r.clean?.metric.value;
    const w = r.worst;
    if (typeof c !== 'number' || !w) return;
    const e = r.entries[0].entry;
    const cls = `${esc(e.defense.family)}${rowKind(r) === 'reported' ? ' reported' : ''}`;
    const cells = [...r.cells.values()];
    const vals = cells.map((k) => k.attack.accuracy.value);
    const g: string[] = [];
    // The defense's attacks, linked: a line from its best to its worst attack family, a tick per family.
    if (cells.length > 1)
      g.push(
        `<line class="span ${cls}" x1="${x(c).toFixed(1)}" y1="${y(Math.max(...vals)).toFixed(1)}" x2="${x(c).toFixed(1)}" y2="${y(Math.min(...vals)).toFixed(1)}"/>`,
      );
    for (const k of cells)
      g.push(
        `<a href="${href(k.page)}"><rect class="${cls}" x="${(x(c) - 3).toFixed(1)}" y="${(y(k.attack.accuracy.value) - 1.5).toFixed(1)}" width="6" height="3"><title>${esc(`${rowName(r)}: ${familyLabel(k.family)} ${num(k.attack.accuracy.value)}%`)}</title></rect></a>`,
      );
    g.push(
      `<a href="${href(w.page)}"><circle class="${cls}" cx="${x(c).toFixed(1)}" cy="${y(w.attack.accuracy.value).toFixed(1)}" r="5"><title>${esc(`${i + 1}. ${rowName(r)}: clean ${num(c)}%, worst case ${num(w.attack.accuracy.value)}% (${familyLabel(w.family)})`)}</title></circle></a>`,
      `<text class="label" x="${(x(c) + 7).toFixed(1)}" y="${(y(w.attack.accuracy.value) + 4).toFixed(1)}">${i + 1}</text>`,
    );
    parts.push(`<g ${rowData(r)}>${g.join('')}</g>`);
  });
  return `<svg class="scatter" viewBox="0 0 ${W} ${H}" role="img" aria-label="clean accuracy versus worst-case robust accuracy, one point per defense, numbered by rank">${parts.join('')}</svg>
<p class="legend small muted"><span>● DBP (blue)</span><span>● AT (red)</span><span>● none (grey)</span><span>○ reported (hollow)</span><span>numbers: rank; ticks on a vertical line: the defense's other attack families</span></p>`;
}

/** The secondary numbers of a headline: Wor.Rob after the attack and any-iteration Avg.Rob, when recorded. */
function secondary(c: AttackCell<PageEntry>): string {
  const a = c.attack;
  const bits: string[] = [];
  if (a.worstOfR) bits.push(`Wor.Rob ${num(a.worstOfR.value, 1)}`);
  if (a.anyIteration) bits.push(`any-iter ${num(a.anyIteration.avgRob.value, 1)}`);
  return bits.length ? `<span class="sub">${esc(bits.join(' · '))}</span>` : '';
}

function paperLine(e: LeaderboardEntry): string {
  const p = e.paper;
  if (!p || (!p.title && !p.venue)) return '';
  const title = p.title ? link(p.url, p.title) : '';
  return `<span class="paper">${title}${p.venue ? ` <span class="muted">${esc(p.venue)}</span>` : ''}</span>`;
}

function table(rows: Row[]): string {
  const fams = presentFamilies(rows);
  const head = `<thead><tr>
<th data-sortable data-type="number" class="num rank">#</th><th data-sortable class="model">Defense</th>
<th data-sortable data-type="number" class="num worst" title="lowest Avg.Rob after-attack accuracy over every attack and configuration of this defense">Worst case %</th>
<th data-sortable data-type="number" class="num">Clean %</th>
${fams.map((f) => `<th data-sortable data-type="number" class="num fam" title="${esc(f.title)}">${esc(f.label)}</th>`).join('')}
<th data-sortable data-type="number" class="num">n</th><th>Flags</th></tr></thead>`;
  const body = rows.map((r, i) => {
    const e = r.entries[0].entry;
    const w = r.worst;
    const name = rowName(r);
    const worst = w
      ? `<a href="${href(w.page)}">${num(w.attack.accuracy.value, 1)}</a>${w.attack.accuracy.ci ? `<span class="ci">[${num(w.attack.accuracy.ci.lower, 1)}, ${num(w.attack.accuracy.ci.upper, 1)}]</span>` : ''}<span class="by">${esc(familyLabel(w.family))}</span>${secondary(w)}`
      : '–';
    const cells = fams.map((f) => {
      const c = r.cells.get(f.id);
      if (!c) return '<td class="num fam muted">–</td>';
      const m = c.attack.accuracy;
      const tip = `${c.attack.name} (${c.entry.name}): ${num(m.value)}%${m.ci ? ` [${num(m.ci.lower)}, ${num(m.ci.upper)}]` : ''}${c.protocol ? `, EoT ${c.protocol.eot}, ${c.protocol.steps ?? '?'} steps, noise ${c.protocol.noisePolicy}` : ''}`;
      return `<td class="num fam" data-sort="${m.value}"><a href="${href(c.page)}" title="${esc(tip)}">${num(m.value, 1)}</a></td>`;
    });
    const n = Math.max(...r.entries.map((x) => x.entry.dataset.n ?? 0));
    const configs =
      r.entries.length > 1
        ? `<span class="sub">${r.entries.length} configurations: ${r.entries.map((x, k) => `<a href="${href(x.page)}" title="${esc(x.entry.name)}">${k + 1}</a>`).join(' ')}</span>`
        : '';
    return `<tr ${rowData(r)}>
<td class="num rank" data-sort="${i + 1}">${i + 1}</td>
<td class="model" data-sort="${esc(name)}"><a href="${href(r.entries[0].page)}">${esc(name)}</a> <span class="badge ${esc(e.defense.family)}">${esc(e.defense.family)}</span>${rowKind(r) === 'reported' ? '<span class="badge">reported</span>' : ''}${paperLine(e)}${configs}</td>
<td class="num worst" data-sort="${w?.attack.accuracy.value ?? ''}">${worst}</td>
<td class="num" data-sort="${r.clean?.metric.value ?? ''}">${r.clean ? `<a href="${href(r.clean.page)}">${num(r.clean.metric.value, 1)}</a>` : '–'}</td>
${cells.join('')}
<td class="num" data-sort="${n || ''}">${n || '–'}</td>
<td class="flags">${[...new Set(r.entries.map((x) => flagBadges(x.entry)))].join('')}</td>
</tr>`;
  });
  return `<div class="table-wrap"><table class="lb">${head}<tbody>${body.join('\n')}</tbody></table></div>`;
}

function option(value: string, label: string): string {
  return `<option value="${esc(value)}">${esc(label)}</option>`;
}

function indexPage(
  groups: Map<string, PageEntry[]>,
  all: PageEntry[],
  title: string,
  now: Date,
  studies: readonly LoadedStudy[] = [],
): string {
  const attacks = [...new Set(all.flatMap((p) => attackIds(p.entry)))].sort();
  const sectionRows = [...groups.values()].map((entries) => defenseRows(entries.map((p) => ({ page: p, entry: p.entry }))));
  const nRows = sectionRows.reduce((s, r) => s + r.length, 0);
  const filters = `<form class="filters" id="filters">
<label>Defense family<select id="filter-family">${option('all', 'all')}${option('dbp', 'DBP')}${option('at', 'AT')}${option('none', 'none')}</select></label>
<label>Attack<select id="filter-attack">${option('all', 'all')}${attacks.map((a) => option(a, a)).join('')}</select></label>
<label>Source<select id="filter-kind">${option('all', 'all')}${option('measured', 'measured')}${option('reported', 'reported')}</select></label>
<span id="filter-count" class="small muted">${nRows} of ${nRows} defenses shown</span>
</form>`;
  const sections = [...groups.values()].map((entries, k) => {
    const e0 = entries[0].entry;
    const exact = [...new Set(entries.map((p) => p.entry.threatModel.eps?.value).filter((v): v is number => typeof v === 'number'))];
    const epsTitle = exact.length ? ` title="${esc(`exact budgets: ${exact.map((v) => String(v)).join(', ')}`)}"` : '';
    return `<section class="group" data-dataset="${esc(e0.dataset.id)}" data-eps="${esc(canonicalEps(e0.threatModel.norm, e0.threatModel.eps?.value).key)}" data-norm="${esc(e0.threatModel.norm)}">
<h2><span>${esc(e0.dataset.id)} — </span><span class="eps"${epsTitle}>${esc(sectionLabel(e0))}</span></h2>
${table(sectionRows[k])}
${scatter(sectionRows[k])}
</section>`;
  });
  const nav = studies.length
    ? `<nav class="site-nav"><b>Studies:</b> ${studies.map((s) => `<a href="${esc(studyPageName(s.study))}">${esc(s.study.title)}</a>`).join(' · ')}</nav>\n`
    : '';
  const body = `<header>${nav}<h1>${esc(title)}</h1>
<p class="muted small">${nRows} defenses from ${all.length} entries. One row per defense, classifier and threat model; a column per attack family (by plugin and noise policy). <b>Worst case</b>: the lowest robust accuracy over every attack the defense faced, ranked on. The metric is Avg.Rob after the attack (the mean fraction of the R final purifications that classify the attacked example correctly), with its 95% Wilson interval and the attack family that gave it; Wor.Rob (all R draws correct) and any-iteration Avg.Rob in small print where recorded. Each cell links to the entry page with that configuration's results. Reported entries are imported numbers (e.g. RobustBench) and were not re-run here. Click a column header to sort. Built ${esc(now.toISOString())}.</p></header>
${filters}
${sections.join('\n') || '<p>No entries.</p>'}`;
  return page(title, body, '');
}

function kv(rows: [string, string][]): string {
  return `<dl class="kv">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function metricRow(label: string, m: Metric | null | undefined, extra = ''): string {
  return `<tr><td>${esc(label)}</td><td class="num">${metricText(m)}</td><td class="num">${ciText(m)}</td><td class="num">${m?.n ?? '–'}</td><td>${extra}</td></tr>`;
}

function entryPage(p: PageEntry, downloads: { json: string; results?: { file: string; sha256: string; ok: boolean } }): string {
  const e = p.entry;
  const res = e.results;
  const resultsTable = `<div class="table-wrap"><table><thead><tr><th>Evaluation</th><th class="num">Accuracy %</th><th class="num">95% CI</th><th class="num">n</th><th>Notes</th></tr></thead><tbody>
${metricRow('clean', res.clean)}
${res.cleanWorstOfR ? metricRow('clean, all R draws correct', res.cleanWorstOfR) : ''}
${res.attacks.map((a) => metricRow(`after ${a.name}`, a.accuracy, a.attacked !== undefined ? esc(`attacked ${a.attacked} samples`) : '')).join('\n')}
${res.attacks.flatMap((a) => [a.worstOfR ? metricRow(`after ${a.name}, all R draws correct`, a.worstOfR) : '', a.majorityOfR ? metricRow(`after ${a.name}, majority of R draws`, a.majorityOfR) : '']).join('\n')}
${metricRow('robust (final)', res.robust)}
</tbody></table></div>`;
  const checked = res.attacks.filter((a) => a.checks);
  const checksTable = checked.length
    ? `<table class="checks"><thead><tr><th>Attack</th><th class="num">Ran on</th><th class="num">Counted robust</th><th class="num">Gradient vanished</th><th class="num">Stalled</th><th class="num">Below budget</th><th class="num">Kept clean</th><th class="num">Not reported</th><th>Flag</th></tr></thead><tbody>
${checked
  .map((a) => {
    const c = a.checks!;
    return `<tr${c.flags.length ? ' class="flagged"' : ''}><td>${esc(a.name)}</td><td class="num">${c.ran}</td><td class="num">${c.robust}</td><td class="num">${c.gradientVanished}</td><td class="num">${c.stalled}</td><td class="num">${c.belowBudget ?? '–'}</td><td class="num">${c.keptClean}</td><td class="num">${c.ran - c.reported}</td><td>${c.flags.length ? c.flags.map((f) => `<span class="badge warn">${esc(f)}</span>`).join('') : 'ok'}</td></tr>`;
  })
  .join('\n')}
</tbody></table>
<p class="small muted">Did each attack really attack? Gradient vanished: its first input gradient was all zero or non-finite. Stalled: counted robust with a perturbation of zero or below one step. Below budget (l_inf): counted robust with ||delta||_inf &lt; eps. Kept clean: returned unperturbed on purpose by the attack's own selection (exempt). Not reported: the attack gave no gradient diagnostics for the sample. An attack is flagged when vanished or stalled samples exceed 1% of all samples, or when most samples counted robust stayed below the l_inf budget.</p>`
    : '';
  const value = (label: string, v: LeaderboardEntry['values']['reported']): string =>
    `<tr><td>${esc(label)}</td><td class="num">${num(v?.clean)}</td><td class="num">${num(v?.robust)}</td><td>${v ? (v.url ? link(v.url, v.source) : esc(v.source)) : '–'}</td></tr>`;
  const values = `<table><thead><tr><th></th><th class="num">Clean %</th><th class="num">Robust %</th><th>Source</th></tr></thead><tbody>
${value('reported', e.values.reported)}${value('measured', e.values.measured)}${value('best known', e.values.bestKnown)}</tbody></table>`;
  const proto = e.protocol;
  const protocol = proto
    ? `${kv([
        ['purifications per sample (R)', esc(proto.purifications)],
        ...(proto.batchSize ? ([['batch size', esc(proto.batchSize)]] as [string, string][]) : []),
        ...(proto.survivors ? ([['survivors', esc(proto.survivors)]] as [string, string][]) : []),
        ...(proto.aggregation ? ([['aggregation', esc(proto.aggregation)]] as [string, string][]) : []),
        ['reduced protocol', esc(Boolean(proto.reduced ?? e.flags.reducedProtocol))],
        ...(proto.notes ? ([['notes', esc(proto.notes)]] as [string, string][]) : []),
      ])}
<table><thead><tr><th>Attack</th><th>Plugin</th><th>Threat</th><th class="num">EoT</th><th class="num">Steps</th><th>Noise policy</th><th>Gradient</th><th>Options</th></tr></thead><tbody>
${proto.attacks
  .map(
    (a) =>
      `<tr><td>${esc(a.name)}</td><td>${esc(a.id)}</td><td>${esc(a.norm ?? '')} ${a.eps !== undefined ? esc(num(a.eps, 5)) : ''}</td><td class="num">${esc(a.eot)}</td><td class="num">${a.steps ?? '–'}</td><td>${esc(a.noisePolicy)}</td><td>${esc(a.gradient)}</td><td>${jsonBlock(a.options)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`
    : '<p class="muted">No protocol recorded.</p>';
  const pv = e.provenance;
  const provenance = kv(
    Object.entries(pv).map(([k, v]) => [k, typeof v === 'object' && v !== null ? jsonBlock(v) : esc(v ?? '–')] as [string, string]),
  );
  const flags = kv([
    ['randomized', esc(e.flags.randomized ?? 'unknown')],
    ['forward passes per prediction', esc(e.flags.forwardPasses ?? 'unknown')],
    ['unreliable', esc(e.flags.unreliable)],
    ...(e.flags.stalledAttack !== undefined ? ([['stalled attack', esc(e.flags.stalledAttack)]] as [string, string][]) : []),
    ['reduced protocol', esc(e.flags.reducedProtocol)],
    ['additional data', esc(e.flags.additionalData ?? 'unknown')],
    [
      'sanity flags',
      e.flags.sanity.length
        ? `<ul>${e.flags.sanity.map((f) => `<li><b>${esc(f.id)}</b>${f.attack ? ` (${esc(f.attack)})` : ''}: ${esc(f.message)}</li>`).join('')}</ul>`
        : 'none',
    ],
  ]);
  const paper =
    e.paper && Object.keys(e.paper).length
      ? kv([
          ...(e.paper.title ? ([['title', link(e.paper.url, e.paper.title)]] as [string, string][]) : []),
          ...(e.paper.authors ? ([['authors', esc(e.paper.authors)]] as [string, string][]) : []),
          ...(e.paper.venue ? ([['venue', esc(e.paper.venue)]] as [string, string][]) : []),
        ])
      : '';
  const dl = [`<li><a href="../data/${esc(path.basename(downloads.json))}" download>entry JSON</a></li>`];
  if (downloads.results) {
    dl.push(
      `<li><a href="../data/${esc(path.basename(downloads.results.file))}" download>per-sample results (JSON lines)</a> <span class="small muted">sha256 ${esc(downloads.results.sha256)}</span>${downloads.results.ok ? '' : ' <span class="badge warn">sha256 does not match the entry</span>'}</li>`,
    );
  } else if (e.resultsFile) {
    dl.push(`<li class="muted">per-sample results file ${esc(e.resultsFile.path)} was not found when the site was built</li>`);
  }
  const body = `<p><a href="../index.html">← leaderboard</a></p>
<h1>${esc(e.name)}</h1>
<p><span class="badge ${esc(e.defense.family)}">${esc(e.defense.family)}</span><span class="badge">${esc(e.kind)}</span>${flagBadges(e)}</p>
${paperLine(e) ? `<p>${paperLine(e)}</p>` : ''}
<p class="muted">${esc(e.dataset.id)}${e.dataset.split ? ` (${esc(e.dataset.split)})` : ''} — <span title="${esc(`exact budget: ${e.threatModel.eps?.value ?? 'none'}`)}">${esc(sectionLabel(e))}</span> — n = ${esc(e.dataset.n ?? 'unknown')}</p>
${e.description ? `<p>${esc(e.description)}</p>` : ''}
${paper ? `<h2>Paper</h2>${paper}` : ''}
<h2>Results</h2>${resultsTable}
${drawMetricsTable(e) ? `<h3>Randomized-defense metrics</h3>${drawMetricsTable(e)}` : ''}
${robustnessCurvePlot(e) ? `<h3>Robust accuracy against attack iterations</h3>${robustnessCurvePlot(e)}` : ''}
${drawHistogramPlot(e) ? `<h3>Correct draws per sample</h3>${drawHistogramPlot(e)}` : ''}
${checksTable ? `<h2>Attack checks</h2>${e.flags.stalledAttack ? '<p class="warn-box">An attack counted samples as robust without really attacking them: the robust accuracy of this entry is overstated.</p>' : ''}${checksTable}` : ''}
<h2>Reported, measured and best-known values</h2>${values}
<h2>Protocol</h2>${protocol}
<h2>Defense</h2>${kv([
    ['id', esc(e.defense.id)],
    ['family', esc(e.defense.family)],
    ['options', jsonBlock(e.defense.options)],
    ['capabilities', e.defense.capabilities ? jsonBlock(e.defense.capabilities) : 'unknown'],
  ])}
<h2>Classifier</h2>${kv(Object.entries(e.classifier).map(([k, v]) => [k, esc(v ?? '–')] as [string, string]))}
<h2>Dataset</h2>${kv([
    ['id', esc(e.dataset.id)],
    ['n', esc(e.dataset.n ?? 'unknown')],
    ['subset', e.dataset.subset ? jsonBlock(e.dataset.subset) : '–'],
    ['indices hash', esc(e.dataset.indicesHash ?? '–')],
  ])}
<h2>Flags</h2>${flags}
<h2>Provenance</h2>${provenance}
${e.footnote ? `<h2>Footnote</h2><pre class="text">${esc(e.footnote)}</pre>` : ''}
<h2>Downloads</h2><ul>${dl.join('')}</ul>`;
  return page(`${e.name} — ${e.dataset.id} ${threatLabel(e.threatModel)}`, body, '../');
}

/**
 * Build the site into `outDir` from loaded entries. An entry's per-sample results file (its
 * `resultsFile.path`, relative to the entry file) is copied into `data/` with its sha256 checked, only
 * from inside the entries tree: the entry's `root` (loadEntries sets it to the directory it read), else
 * the entry file's own directory. Every entry is checked before anything is written.
 *
 * Deployable unchanged to any static host: every link inside the site is relative (`index.html`,
 * `entries/<page>.html`, `study-<id>.html`, `studies/<id>/<figure>`, `../data/...`, `assets/...`; only
 * entry URLs are absolute http(s) links out),
 * `.nojekyll` turns off GitHub Pages' Jekyll, and `sitemap.xml` lists the index and the entry pages
 * when `baseUrl` is given. The site is staged next to `outDir` (`stageDirectory`) and replaces it at the
 * end (`commitDirectory`), so a failed or interrupted build leaves the previous site intact; an existing
 * `outDir` that holds anything but a site (SITE_TOP_LEVEL) is refused before anything is written.
 */
export async function buildSite(
  entries: readonly (LoadedEntry | { entry: LeaderboardEntry; file?: string; root?: string })[],
  outDir: string,
  options: BuildSiteOptions = {},
): Promise<BuildSiteResult> {
  const logger = options.logger ?? silentLogger;
  const now = options.now ?? new Date();
  const title = options.title ?? 'dbp-bench leaderboard';
  const warnings: string[] = [];
  assertUniqueEntryIds(entries);
  const seen = new Map<string, string | undefined>();
  const pages: PageEntry[] = [];
  for (const { entry, file, root: given } of entries as readonly { entry: LeaderboardEntry; file?: string; root?: string }[]) {
    const pageId = pageIdOf(entry, file);
    if (seen.has(pageId)) {
      throw new Error(
        `two entries have id '${entry.id}' for ${entry.dataset.id}/${entry.threatModel.id} (${seen.get(pageId) ?? 'given in memory'} and ${file ?? 'one given in memory'}); entry ids must be unique per dataset and threat model`,
      );
    }
    seen.set(pageId, file);
    const p: PageEntry = { pageId, file, entry };
    if (file) {
      const root = given ?? path.dirname(file);
      if (given) checkEntryFile(file, root);
      if (entry.resultsFile) {
        const real = publishableResults(file, root, entry.resultsFile.path);
        if (real) p.results = real;
        else warnings.push(`${file}: results file ${path.resolve(path.dirname(file), entry.resultsFile.path)} not found`);
      }
    }
    pages.push(p);
  }
  const groups = new Map<string, PageEntry[]>();
  for (const p of [...pages].sort((a, b) => groupKey(a.entry).localeCompare(groupKey(b.entry)))) {
    const k = groupKey(p.entry);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(p);
  }
  const base = options.baseUrl !== undefined ? siteBaseUrl(options.baseUrl) : null;
  const studies = options.studies ?? [];
  const studyIds = new Map<string, string>();
  for (const st of studies) {
    const first = studyIds.get(st.study.id);
    if (first !== undefined)
      throw new DataFormatError(
        st.file,
        `$.id: study id '${st.study.id}' is already the id of ${first}; each study needs its own id (its page is study-<id>.html)`,
      );
    studyIds.set(st.study.id, st.file);
  }
  const byId = new Map(pages.map((p) => [JSON.stringify([p.entry.dataset.id, p.entry.threatModel.id, p.entry.id]), p]));
  const studyPages: string[] = [];
  // The site is staged next to outDir and moved into place at the end (the one home of atomic
  // directories, @dbp-bench/core): an interrupted or failed build leaves the previous site as it was,
  // and the next build removes the staging directory of a killed one.
  const out = path.resolve(outDir);
  checkReplaceable(out);
  const staging = stageDirectory(out);
  options.onStaging?.(staging);
  const written: string[] = [];
  const downloads: string[] = [];
  try {
    writeFileAtomic(path.join(staging, 'assets', 'site.css'), SITE_CSS.trimStart());
    writeFileAtomic(path.join(staging, 'assets', 'site.js'), SITE_JS.trimStart());
    // GitHub Pages runs Jekyll unless told not to; nothing here needs it.
    writeFileAtomic(path.join(staging, '.nojekyll'), '');
    for (const p of pages) {
      const jsonFile = path.join(staging, 'data', `${p.pageId}.json`);
      writeFileAtomic(jsonFile, JSON.stringify(p.entry, null, 2) + '\n');
      let results: { file: string; sha256: string; ok: boolean } | undefined;
      if (p.results && p.entry.resultsFile) {
        const name = `${p.pageId}.results.jsonl`;
        const dest = path.join(staging, 'data', name);
        copyFileAtomic(p.results, dest);
        const sha = await sha256File(dest);
        const ok = sha === p.entry.resultsFile.sha256;
        if (!ok) warnings.push(`${p.file}: results file ${p.results} has sha256 ${sha}, the entry says ${p.entry.resultsFile.sha256}`);
        results = { file: dest, sha256: sha, ok };
        downloads.push(path.join(outDir, 'data', name));
      }
      writeFileAtomic(path.join(staging, 'entries', `${p.pageId}.html`), entryPage(p, { json: jsonFile, results }));
      written.push(path.join(outDir, 'entries', `${p.pageId}.html`));
      // Let signal handlers run between pages (a long build stays interruptible).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const st of studies) {
      const s = st.study;
      for (const f of st.figures) copyFileAtomic(f.source, path.join(staging, studyFigureDir(s), ...f.file.split('/')));
      const resolve = (id: string): StudyCellEntry | null => {
        const p = byId.get(JSON.stringify([s.dataset, s.threatModel, id]));
        return p ? { href: `entries/${p.pageId}.html`, entry: p.entry } : null;
      };
      writeFileAtomic(path.join(staging, studyPageName(s)), studyPage(st, resolve, now));
      studyPages.push(path.join(outDir, studyPageName(s)));
    }
    writeFileAtomic(path.join(staging, 'index.html'), indexPage(groups, pages, title, now, studies));
    if (base)
      writeFileAtomic(
        path.join(staging, 'sitemap.xml'),
        sitemapXml(
          base,
          pages.map((p) => p.pageId),
          studies.map((st) => studyPageName(st.study)),
        ),
      );
    commitDirectory(staging, out);
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  } finally {
    options.onStaging?.(null);
  }
  for (const w of warnings) logger.warn(w);
  return {
    index: path.join(outDir, 'index.html'),
    pages: written,
    downloads,
    sitemap: base ? path.join(outDir, 'sitemap.xml') : null,
    studies: studyPages,
    warnings,
  };
}

/** A plain-text table of entries (for the CLI): one block per dataset x threat model; entry strings go through `plainText`. */
export function formatLeaderboardText(entries: readonly LeaderboardEntry[]): string {
  const groups = new Map<string, LeaderboardEntry[]>();
  for (const e of [...entries].sort((a, b) => groupKey(a).localeCompare(groupKey(b)))) {
    const k = groupKey(e);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(e);
  }
  const out: string[] = [];
  for (const list of groups.values()) {
    const e0 = list[0];
    out.push(plainText(`${e0.dataset.id} — ${sectionLabel(e0)}`));
    const rows = [...list]
      .sort((a, b) => (b.results.robust?.value ?? -1) - (a.results.robust?.value ?? -1))
      .map((e) => [
        plainText(e.name),
        e.defense.family,
        e.kind,
        metricText(e.results.clean),
        metricText(e.results.robust),
        ciText(e.results.robust),
        metricText(e.results.robustSingle),
        metricText(e.results.robustWorst),
        metricText(e.results.robustMajority),
        metricText(e.results.robustAnyIteration?.worRob),
        e.results.draws !== undefined ? String(e.results.draws) : String(e.protocol?.purifications ?? '–'),
        String(e.dataset.n ?? '–'),
        [
          e.flags.stalledAttack ? 'STALLED-ATTACK' : '',
          e.flags.reducedProtocol ? 'reduced' : '',
          e.flags.randomized ? 'randomized' : '',
          ...e.flags.sanity.map((f) => f.id),
        ]
          .filter(Boolean)
          .join(' '),
      ]);
    // robust % = Avg.Rob after the attacks (mean fraction of the R final draws correct); single = the
    // first draw; Wor = all R draws; maj = plurality of the R draws; any-it Wor = no wrong draw at any
    // iterate of any attack (ALGORITHMS.md §14.4)
    const header = ['model', 'family', 'kind', 'clean %', 'robust %', '95% CI', 'single', 'Wor', 'maj', 'any-it Wor', 'R', 'n', 'flags'];
    const all = [header, ...rows];
    const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
    const line = (r: string[]): string =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd();
    out.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), '');
  }
  return out.join('\n');
}

/**
 * The attack checks of a measured entry as plain text (for the CLI after a run or merge): per attack,
 * samples ran on, counted robust, vanished gradients, stalled, below the l_inf budget, kept clean, flag.
 */
export function formatAttackChecksText(e: LeaderboardEntry): string {
  const checked = e.results.attacks.filter((a) => a.checks);
  if (!checked.length) return '';
  const header = ['attack', 'ran on', 'robust', 'grad vanished', 'stalled', 'below budget', 'kept clean', 'not reported', 'flag'];
  const rows = checked.map((a) => {
    const c = a.checks!;
    return [
      plainText(a.name),
      String(c.ran),
      String(c.robust),
      String(c.gradientVanished),
      String(c.stalled),
      c.belowBudget === null ? '–' : String(c.belowBudget),
      String(c.keptClean),
      String(c.ran - c.reported),
      c.flags.length ? c.flags.join(',').toUpperCase() : 'ok',
    ];
  });
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [
    'attack checks (did each attack really attack?)',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n');
}
