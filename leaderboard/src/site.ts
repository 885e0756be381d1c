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
import { DataFormatError, copyFileAtomic, sha256, sha256File, writeFileAtomic, silentLogger, type Logger } from '@dbp-bench/core';
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
import { esc, jsonBlock, link, num, plainText } from './html';

export interface BuildSiteOptions {
  /** Page title. */
  title?: string;
  logger?: Logger;
  /** Time shown as "built at" (default now). */
  now?: Date;
}

export interface BuildSiteResult {
  index: string;
  pages: string[];
  /** Per-sample results files copied into data/ (each from inside the entries tree). */
  downloads: string[];
  warnings: string[];
}

interface PageEntry {
  pageId: string;
  file?: string;
  entry: LeaderboardEntry;
  /** Real path of the per-sample results file to publish (checked to lie inside the entries tree). */
  results?: string;
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

function page(title: string, body: string, root: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<title>${esc(title)}</title>
<link rel="stylesheet" href="${root}assets/site.css">
</head>
<body>
${body}
<script src="${root}assets/site.js"></script>
</body>
</html>
`;
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
 * symbolic link, or is not a regular file.
 */
function publishableResults(file: string, root: string, rel: unknown): string | null {
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
function bestKnown(e: LeaderboardEntry): number | null {
  return e.values.bestKnown?.robust ?? null;
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
  return `${e.dataset.id}\u0000${e.threatModel.id}`;
}

function scatter(entries: PageEntry[]): string {
  const W = 420,
    H = 300,
    L = 48,
    R = 12,
    T = 12,
    B = 40;
  const x = (v: number): number => L + ((W - L - R) * v) / 100;
  const y = (v: number): number => H - B - ((H - T - B) * v) / 100;
  const parts: string[] = [];
  for (let v = 0; v <= 100; v += 20) {
    parts.push(`<line class="grid" x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(100)}"/>`);
    parts.push(`<line class="grid" x1="${x(0)}" y1="${y(v)}" x2="${x(100)}" y2="${y(v)}"/>`);
    parts.push(`<text x="${x(v)}" y="${y(0) + 14}" text-anchor="middle">${v}</text>`);
    parts.push(`<text x="${x(0) - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`);
  }
  parts.push(
    `<line class="axis" x1="${x(0)}" y1="${y(0)}" x2="${x(100)}" y2="${y(0)}"/><line class="axis" x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(100)}"/>`,
  );
  parts.push(`<text x="${(x(0) + x(100)) / 2}" y="${H - 6}" text-anchor="middle">clean accuracy (%)</text>`);
  parts.push(`<text transform="translate(12 ${(y(0) + y(100)) / 2}) rotate(-90)" text-anchor="middle">robust accuracy (%)</text>`);
  for (const p of entries) {
    const e = p.entry;
    const c = e.results.clean?.value;
    const r = e.results.robust?.value;
    if (typeof c !== 'number' || typeof r !== 'number') continue;
    parts.push(
      `<a href="entries/${esc(p.pageId)}.html"><circle ${rowData(p)} class="${esc(e.defense.family)}${e.kind === 'reported' ? ' reported' : ''}" cx="${x(c).toFixed(1)}" cy="${y(r).toFixed(1)}" r="5"><title>${esc(`${e.name}: clean ${num(c)}%, robust ${num(r)}% (${e.kind})`)}</title></circle></a>`,
    );
  }
  return `<svg class="scatter" viewBox="0 0 ${W} ${H}" role="img" aria-label="clean versus robust accuracy">${parts.join('')}</svg>
<p class="legend small muted"><span>● DBP (blue)</span><span>● AT (red)</span><span>● none (grey)</span><span>○ reported (hollow)</span></p>`;
}

function rowData(p: PageEntry): string {
  const e = p.entry;
  return `data-entry="${esc(p.pageId)}" data-family="${esc(e.defense.family)}" data-kind="${esc(e.kind)}" data-attacks="${esc(JSON.stringify(attackIds(e)))}"`;
}

function table(entries: PageEntry[]): string {
  const sorted = [...entries].sort((a, b) => (b.entry.results.robust?.value ?? -1) - (a.entry.results.robust?.value ?? -1));
  const head = `<thead><tr>
<th data-sortable data-type="number" class="num">#</th><th data-sortable>Model</th><th data-sortable>Family</th><th data-sortable>Kind</th>
<th data-sortable data-type="number" class="num">Clean %</th><th data-sortable data-type="number" class="num">Robust %</th><th class="num">95% CI</th>
<th data-sortable data-type="number" class="num">Best known %</th><th data-sortable>Attacks</th><th data-sortable data-type="number" class="num">n</th>
<th data-sortable data-type="number" class="num">Fwd passes</th><th>Flags</th></tr></thead>`;
  const rows = sorted.map((p, i) => {
    const e = p.entry;
    const robust = e.results.robust;
    const attacks = e.results.attacks.map((a) => a.name).join(', ');
    return `<tr ${rowData(p)}>
<td class="num" data-sort="${i + 1}">${i + 1}</td>
<td class="model" data-sort="${esc(e.name)}"><a href="entries/${esc(p.pageId)}.html">${esc(e.name)}</a></td>
<td><span class="badge ${esc(e.defense.family)}">${esc(e.defense.family)}</span></td>
<td>${esc(e.kind)}</td>
<td class="num" data-sort="${e.results.clean?.value ?? ''}">${metricText(e.results.clean)}</td>
<td class="num" data-sort="${robust?.value ?? ''}">${metricText(robust)}</td>
<td class="num">${ciText(robust)}</td>
<td class="num" data-sort="${bestKnown(e) ?? ''}">${num(bestKnown(e))}</td>
<td>${esc(attacks || '–')}</td>
<td class="num" data-sort="${e.dataset.n ?? ''}">${e.dataset.n ?? '–'}</td>
<td class="num" data-sort="${e.flags.forwardPasses ?? ''}">${e.flags.forwardPasses ?? '–'}</td>
<td>${flagBadges(e)}</td>
</tr>`;
  });
  return `<table class="lb">${head}<tbody>${rows.join('\n')}</tbody></table>`;
}

function option(value: string, label: string): string {
  return `<option value="${esc(value)}">${esc(label)}</option>`;
}

function indexPage(groups: Map<string, PageEntry[]>, all: PageEntry[], title: string, now: Date): string {
  const attacks = [...new Set(all.flatMap((p) => attackIds(p.entry)))].sort();
  const filters = `<form class="filters" id="filters">
<label>Defense family<select id="filter-family">${option('all', 'all')}${option('dbp', 'DBP')}${option('at', 'AT')}${option('none', 'none')}</select></label>
<label>Attack<select id="filter-attack">${option('all', 'all')}${attacks.map((a) => option(a, a)).join('')}</select></label>
<label>Source<select id="filter-kind">${option('all', 'all')}${option('measured', 'measured')}${option('reported', 'reported')}</select></label>
<span id="filter-count" class="small muted">${all.length} of ${all.length} entries shown</span>
</form>`;
  const sections = [...groups.values()].map((entries) => {
    const e0 = entries[0].entry;
    return `<section class="group" data-dataset="${esc(e0.dataset.id)}" data-threat="${esc(e0.threatModel.id)}">
<h2>${esc(e0.dataset.id)} — ${esc(threatLabel(e0.threatModel))}</h2>
${table(entries)}
${scatter(entries)}
</section>`;
  });
  const body = `<header><h1>${esc(title)}</h1>
<p class="muted small">${all.length} entries. Robust accuracy is the accuracy after every attack of the entry's protocol (worst case over attacks, later attacks on survivors); 95% Wilson intervals. Reported entries are imported numbers (e.g. RobustBench) and were not re-run here. Click a column header to sort. Built ${esc(now.toISOString())}.</p></header>
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
  const resultsTable = `<table><thead><tr><th>Evaluation</th><th class="num">Accuracy %</th><th class="num">95% CI</th><th class="num">n</th><th>Notes</th></tr></thead><tbody>
${metricRow('clean', res.clean)}
${res.cleanWorstOfR ? metricRow('clean, all R draws correct', res.cleanWorstOfR) : ''}
${res.attacks.map((a) => metricRow(`after ${a.name}`, a.accuracy, a.attacked !== undefined ? esc(`attacked ${a.attacked} samples`) : '')).join('\n')}
${res.attacks.flatMap((a) => [a.worstOfR ? metricRow(`after ${a.name}, all R draws correct`, a.worstOfR) : '', a.majorityOfR ? metricRow(`after ${a.name}, majority of R draws`, a.majorityOfR) : '']).join('\n')}
${metricRow('robust (final)', res.robust)}
</tbody></table>`;
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
<p class="muted">${esc(e.dataset.id)}${e.dataset.split ? ` (${esc(e.dataset.split)})` : ''} — ${esc(threatLabel(e.threatModel))} — n = ${esc(e.dataset.n ?? 'unknown')}</p>
${e.description ? `<p>${esc(e.description)}</p>` : ''}
${paper ? `<h2>Paper</h2>${paper}` : ''}
<h2>Results</h2>${resultsTable}
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
  writeFileAtomic(path.join(outDir, 'assets', 'site.css'), SITE_CSS.trimStart());
  writeFileAtomic(path.join(outDir, 'assets', 'site.js'), SITE_JS.trimStart());
  const written: string[] = [];
  const downloads: string[] = [];
  for (const p of pages) {
    const jsonFile = path.join(outDir, 'data', `${p.pageId}.json`);
    writeFileAtomic(jsonFile, JSON.stringify(p.entry, null, 2) + '\n');
    let results: { file: string; sha256: string; ok: boolean } | undefined;
    if (p.results && p.entry.resultsFile) {
      const dest = path.join(outDir, 'data', `${p.pageId}.results.jsonl`);
      copyFileAtomic(p.results, dest);
      const sha = await sha256File(dest);
      const ok = sha === p.entry.resultsFile.sha256;
      if (!ok) warnings.push(`${p.file}: results file ${p.results} has sha256 ${sha}, the entry says ${p.entry.resultsFile.sha256}`);
      results = { file: dest, sha256: sha, ok };
      downloads.push(dest);
    }
    const html = path.join(outDir, 'entries', `${p.pageId}.html`);
    writeFileAtomic(html, entryPage(p, { json: jsonFile, results }));
    written.push(html);
  }
  const index = path.join(outDir, 'index.html');
  writeFileAtomic(index, indexPage(groups, pages, title, now));
  for (const w of warnings) logger.warn(w);
  return { index, pages: written, downloads, warnings };
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
    out.push(plainText(`${e0.dataset.id} — ${threatLabel(e0.threatModel)}`));
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
