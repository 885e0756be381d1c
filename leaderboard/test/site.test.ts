import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256 } from '@dbp-bench/core';
import {
  buildSite,
  entryPath,
  formatAttackChecksText,
  formatLeaderboardText,
  importRobustBench,
  loadEntries,
  writeEntry,
  type LeaderboardEntry,
} from '../src';
import type { Page } from 'playwright-core';
import { BIDI, FIXTURES, URL_PROBES, findChromium, launchChromium, measuredEntry, serve, type HeadlessChromium } from './helpers';

const EVIL = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2;alert(1)">`;

/** An entries directory: RobustBench fixtures, measured DBP/AT entries, and one entry full of markup. */
function makeEntries(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-entries-'));
  for (const { entry } of importRobustBench(path.join(FIXTURES, 'model_info'), { now: new Date('2025-01-01T00:00:00Z') }).entries)
    writeEntry(entryPath(dir, entry), entry);
  const dbp = measuredEntry({ id: 'dp-ddpm', name: 'DP_DDPM + WRN', clean: 87.5, robust: 46.875 });
  const results = '{"type":"sample","position":0}\n';
  const withResults: LeaderboardEntry = { ...dbp, resultsFile: { path: 'dp-ddpm.results.jsonl', sha256: sha256(results), records: 1 } };
  const file = entryPath(dir, withResults);
  writeEntry(file, withResults);
  fs.writeFileSync(path.join(path.dirname(file), 'dp-ddpm.results.jsonl'), results);
  writeEntry(
    entryPath(dir, measuredEntry({ id: 'dp-ddim-dw', name: 'DP_DDIM + WRN (DW_Both)', clean: 84.375, robust: 15.625, attack: 'dw-box' })),
    measuredEntry({ id: 'dp-ddim-dw', name: 'DP_DDIM + WRN (DW_Both)', clean: 84.375, robust: 15.625, attack: 'dw-box' }),
  );
  writeEntry(
    entryPath(dir, measuredEntry({ id: 'pgd-at', name: 'PGD-AT ResNet-20', family: 'at', clean: 78.125, robust: 40.625 })),
    measuredEntry({ id: 'pgd-at', name: 'PGD-AT ResNet-20', family: 'at', clean: 78.125, robust: 40.625 }),
  );
  const evil = measuredEntry({ id: 'evil', name: EVIL, clean: 50, robust: 25 });
  evil.description = EVIL;
  // Valid http(s) URLs (validation refuses anything else) that try to break out of the href attribute.
  evil.paper = {
    title: EVIL,
    url: 'https://example.org/"><script>window.__pwned=3</script>',
    venue: '"><script>window.__pwned=4</script>',
  };
  evil.defense.options = { note: '</pre><script>window.__pwned=5</script>' };
  evil.flags.sanity = [{ id: 'zero-gradient', attack: EVIL, message: `<img src=x onerror="window.__pwned=6">` }];
  evil.footnote = EVIL;
  evil.values.reported = { robust: 30, source: EVIL, url: "https://example.org/?q='><img/src=x/onerror=window.__pwned=7>" };
  writeEntry(entryPath(dir, evil), evil);
  return dir;
}

/**
 * Entries that did not come through validation (buildSite's defence in depth): every URL field holds a
 * probe from URL_PROBES (four per entry), every name a bidi override.
 */
function probeEntries(): { entry: LeaderboardEntry }[] {
  const out: { entry: LeaderboardEntry }[] = [];
  for (let k = 0; k * 4 < URL_PROBES.length; k++) {
    const [p0, p1, p2, p3] = [0, 1, 2, 3].map((i) => URL_PROBES[(4 * k + i) % URL_PROBES.length]);
    const e = measuredEntry({ id: `probe-${k}`, name: `probe ${k} \u202Egnp.exe ${BIDI.join('')}`, clean: 60 + k, robust: 20 + k });
    e.paper = { title: `paper ${k}`, url: p0, venue: `venue \u2067${k}` };
    e.values = {
      reported: { robust: 30, source: `reported ${k}`, url: p1 },
      measured: { robust: 20, source: `measured ${k}`, url: p2 },
      bestKnown: { robust: 20, source: `best ${k}`, url: p3 },
    };
    out.push({ entry: e });
  }
  return out;
}

describe('leaderboard site (static checks)', () => {
  it('renders no probe URL as a link, even from entries that skipped validation', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-'));
    const res = await buildSite(probeEntries(), out);
    const all = [res.index, ...res.pages].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    const hrefs = [...all.matchAll(/\s(?:href|src|action|formaction)="([^"]*)"/g)].map((m) => m[1]);
    expect(hrefs.length).to.be.greaterThan(10);
    // Only the site's own relative links remain: pages, data files, assets.
    for (const h of hrefs)
      expect(h, h).to.match(/^(\.\.\/)?(index\.html|entries\/probe|entries\/cifar10__|data\/cifar10__|assets\/site\.(css|js))/);
    expect(all).to.not.match(/javascript:|vbscript:|data:text|evil\.example\/x"/i);
    // The refused URLs' link texts are still shown, as text.
    expect(all).to.include('<dt>title</dt><dd>paper 0</dd>');
    for (const c of BIDI) expect(all.includes(c)).to.equal(false);
  });

  it('builds index, entry pages and downloads with local assets only, every entry string escaped', async () => {
    const entries = makeEntries();
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-'));
    const res = await buildSite(loadEntries(entries), out, { now: new Date('2025-01-02T00:00:00Z') });
    expect(res.warnings).to.deep.equal([]);
    expect(res.pages).to.have.length(8);
    expect(res.downloads.map((d) => path.basename(d))).to.deep.equal(['cifar10__linf-8_255__dp-ddpm.results.jsonl']);
    const index = fs.readFileSync(res.index, 'utf8');
    // Two tables: Linf 8/255 (0.031 is shown as 8/255 and grouped with it), L2 0.5.
    expect(index.match(/<table class="lb">/g)).to.have.length(2);
    expect(index.match(/<svg class="scatter"/g)).to.have.length(2);
    const all = [index, ...res.pages.map((p) => fs.readFileSync(p, 'utf8'))].join('\n');
    expect(all).to.not.include('<script>window.__pwned');
    expect(all).to.not.match(/<img[^>]*onerror/);
    expect(all).to.not.include('javascript:');
    expect(all).to.include('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
    // No external resources: every src and stylesheet href is relative.
    for (const m of all.matchAll(/<(?:script|link)[^>]*(?:src|href)="([^"]+)"/g)) expect(m[1]).to.not.match(/^(https?:)?\/\//);
    expect(fs.existsSync(path.join(out, 'assets', 'site.js'))).to.equal(true);
    expect(fs.readFileSync(path.join(out, 'assets', 'site.js'), 'utf8')).to.not.match(
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/,
    );
    expect(formatLeaderboardText(loadEntries(entries).map((l) => l.entry))).to.match(/DP_DDPM \+ WRN\s+dbp\s+measured\s+87\.50\s+46\.88/);
  });

  it('shows a stalled attack: a badge on the index and in the CLI table, the attack checks on the entry page', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-entries-'));
    const ok = measuredEntry({ id: 'ok', name: 'Checked OK', clean: 90, robust: 40 });
    ok.results.attacks[0].checks = {
      ran: 58,
      robust: 26,
      reported: 58,
      gradientVanished: 0,
      stalled: 0,
      unmoved: 0,
      keptClean: 0,
      belowBudget: 0,
      unchecked: 0,
      flags: [],
    };
    ok.flags.stalledAttack = false;
    const bad = measuredEntry({ id: 'stalled', name: 'Stalled PGD', clean: 90, robust: 80 });
    bad.defense.options = { tStar: 0.2 }; // another defense: its own row
    bad.results.attacks[0].checks = {
      ran: 58,
      robust: 51,
      reported: 58,
      gradientVanished: 3,
      stalled: 40,
      unmoved: 41,
      keptClean: 0,
      belowBudget: 45,
      unchecked: 0,
      flags: ['stalled', 'below-budget'],
    };
    bad.flags = { ...bad.flags, stalledAttack: true, unreliable: true };
    for (const e of [ok, bad]) writeEntry(entryPath(dir, e), e);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-'));
    const res = await buildSite(loadEntries(dir), out);
    const index = fs.readFileSync(res.index, 'utf8');
    const row = (name: string): string => index.split('<tr ').find((r) => r.includes(`>${name}</a>`))!;
    expect(row('Stalled PGD')).to.match(
      /<span class="badge warn stalled" title="pgd-20: 41 unmoved \(3 vanished gradients, 40 stalled\), 45 of 51 counted robust below the budget \[stalled, below-budget\]">stalled attack<\/span>/,
    );
    expect(row('Checked OK')).to.not.include('stalled attack');
    const page = fs.readFileSync(
      res.pages.find((p) => p.endsWith('__stalled.html'))!,
      'utf8',
    );
    expect(page).to.include('<h2>Attack checks</h2><p class="warn-box">');
    expect(page).to.match(
      /<tr class="flagged"><td>pgd-20<\/td><td class="num">58<\/td><td class="num">51<\/td><td class="num">3<\/td><td class="num">40<\/td><td class="num">45<\/td><td class="num">0<\/td><td class="num">0<\/td><td><span class="badge warn">stalled<\/span><span class="badge warn">below-budget<\/span><\/td><\/tr>/,
    );
    const okPage = fs.readFileSync(
      res.pages.find((p) => p.endsWith('__ok.html'))!,
      'utf8',
    );
    expect(okPage).to.include('<h2>Attack checks</h2><table class="checks">');
    expect(okPage).to.not.include('warn-box');
    expect(formatLeaderboardText([ok, bad])).to.match(/Stalled PGD .*STALLED-ATTACK/);
    expect(formatAttackChecksText(bad)).to.match(/pgd-20\s+58\s+51\s+3\s+40\s+45\s+0\s+0\s+STALLED,BELOW-BUDGET/);
    expect(formatAttackChecksText(ok)).to.match(/pgd-20\s+58\s+26\s+0\s+0\s+0\s+0\s+0\s+ok/);
  });

  it('flags a results file whose sha256 does not match its entry', async () => {
    const entries = makeEntries();
    fs.appendFileSync(path.join(entries, 'cifar10', 'linf-8_255', 'dp-ddpm.results.jsonl'), 'tampered\n');
    const res = await buildSite(loadEntries(entries), fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-')));
    expect(res.warnings.join('\n')).to.match(/dp-ddpm\.results\.jsonl has sha256/);
  });
});

describe('leaderboard site in headless Chromium', function () {
  this.timeout(120000);
  let chrome: HeadlessChromium | undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  const dialogs: string[] = [];
  const requests: string[] = [];
  const handled = new WeakSet<object>();
  const onDialog = (d: { message(): string; dismiss(): Promise<void> }): void => {
    if (handled.has(d)) return;
    handled.add(d);
    dialogs.push(d.message());
    d.dismiss().catch(() => undefined);
  };
  let probePages: string[] = [];

  before(async function () {
    const exe = findChromium();
    if (!exe) {
      console.log('      (skipping browser tests: no chromium on PATH; install Debian `chromium` or set CHROMIUM_PATH)');
      this.skip();
    }
    // site/: the normal site; probe/: a site built from unvalidated probe entries (every URL field a
    // probe from URL_PROBES, bidi controls in names) with its Content-Security-Policy removed.
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-site-')));
    await buildSite(loadEntries(makeEntries()), path.join(base, 'site'));
    const probe = await buildSite(probeEntries(), path.join(base, 'probe'));
    for (const f of [probe.index, ...probe.pages]) {
      const html = fs.readFileSync(f, 'utf8');
      const stripped = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>\n/, '');
      expect(stripped.length).to.be.lessThan(html.length);
      fs.writeFileSync(f, stripped);
    }
    probePages = [probe.index, ...probe.pages].map((f) => path.relative(base, f).split(path.sep).join('/'));
    server = await serve(base);
    chrome = await launchChromium(exe, server.url);
    // Nothing leaves the machine: requests off the local server are recorded and aborted.
    chrome.context.on('page', (p) => p.on('dialog', onDialog));
    chrome.context.on('request', (r) => requests.push(r.url()));
  });

  after(async () => {
    await chrome?.close();
    await server?.close();
  });

  async function open(rel: string): Promise<Page> {
    const page = await chrome!.context.newPage();
    page.on('dialog', onDialog);
    await page.goto(server!.url + rel, { waitUntil: 'load' });
    return page;
  }

  const visibleColumn = (table: string, col: number) => `
    Array.from(document.querySelectorAll('${table} tbody tr')).filter((r) => !r.hasAttribute('hidden')).map((r) => (r.cells[${col}].querySelector('a') || r.cells[${col}]).textContent.trim())`;

  it('sorts a table by clicking its headers', async () => {
    const page = await open('site/index.html');
    const table = 'section[data-eps="8/255"] table.lb';
    const clean = async (): Promise<number[]> => (await page.evaluate<string[]>(visibleColumn(table, 3))).map(Number);
    await page.click(`${table} th:nth-child(4)`);
    const desc = await clean();
    expect(desc.length).to.equal(6);
    expect(desc).to.deep.equal([...desc].sort((a, b) => b - a));
    expect(await page.getAttribute(`${table} th:nth-child(4)`, 'aria-sort')).to.equal('descending');
    await page.click(`${table} th:nth-child(4)`);
    const asc = await clean();
    expect(asc).to.deep.equal([...desc].reverse());
    await page.click(`${table} th:nth-child(2)`);
    const names: string[] = await page.evaluate(visibleColumn(table, 1));
    expect(names).to.deep.equal(
      [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0)),
    );
    await page.close();
  });

  it('filters by defense family, attack and reported vs measured (tables and scatter points)', async () => {
    const page = await open('site/index.html');
    const table = 'section[data-eps="8/255"] table.lb';
    const fam = `Array.from(document.querySelectorAll('${table} tbody tr')).filter((r) => !r.hasAttribute('hidden')).map((r) => r.getAttribute('data-family') + '/' + r.getAttribute('data-kind'))`;
    await page.selectOption('#filter-family', 'at');
    const at: string[] = await page.evaluate(fam);
    expect(at.sort()).to.deep.equal(['at/measured', 'at/reported']);
    const circles = await page.evaluate(
      `Array.from(document.querySelectorAll('section[data-eps="8/255"] g[data-entry]')).filter((c) => !c.hasAttribute('hidden')).length`,
    );
    expect(circles).to.equal(2);
    await page.selectOption('#filter-family', 'all');
    await page.selectOption('#filter-kind', 'reported');
    expect(((await page.evaluate(fam)) as string[]).every((x) => x.endsWith('/reported'))).to.equal(true);
    expect(await page.textContent('#filter-count')).to.equal('4 of 7 defenses shown');
    await page.selectOption('#filter-kind', 'all');
    await page.selectOption('#filter-attack', 'dw-box');
    // DP_DDPM + WRN and DP_DDIM + WRN (DW_Both) are one defense (same id, options, classifier): one row.
    expect(await page.evaluate(visibleColumn(table, 1))).to.deep.equal(['dp-ddpm + wrn-28-10']);
    await page.selectOption('#filter-attack', 'all');
    expect(await page.textContent('#filter-count')).to.equal('7 of 7 defenses shown');
    await page.close();
  });

  it('shows markup in entry strings as text and runs none of it', async () => {
    const page = await open('site/index.html');
    const names: string[] = await page.evaluate(visibleColumn('section[data-eps="8/255"] table.lb', 1));
    expect(names).to.include(EVIL);
    expect(await page.evaluate('window.__pwned')).to.equal(undefined);
    const entryPage = await open('site/entries/cifar10__linf-8_255__evil.html');
    expect(await entryPage.textContent('h1')).to.equal(EVIL);
    expect(await entryPage.evaluate('window.__pwned')).to.equal(undefined);
    expect(await entryPage.evaluate('document.querySelectorAll("img").length')).to.equal(0);
    expect(await entryPage.evaluate('Array.from(document.scripts).map((s) => s.getAttribute("src"))')).to.deep.equal(['../assets/site.js']);
    // Download links and the results file work from the file server.
    const dl = await open('site/entries/cifar10__linf-8_255__dp-ddpm.html');
    const href = await dl.getAttribute('a[href$=".results.jsonl"]', 'href');
    const body = await dl.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.text())`);
    expect(body).to.equal('{"type":"sample","position":0}\n');
    expect(dialogs).to.deep.equal([]);
    expect(requests.filter((u) => !u.startsWith(server!.url))).to.deep.equal([]);
    await Promise.all([page.close(), entryPage.close(), dl.close()]);
  });

  it('with the CSP removed, escaping alone keeps every probe from running script or leaving the site', async () => {
    const origin = new URL(server!.url).origin;
    const clickLink = (which: string) =>
      `(() => { const a = document.querySelectorAll('a')[${which}]; a.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window })); return a.getAttribute('href'); })()`;
    // Control: without the CSP a javascript: link written java<TAB>script: does run on these pages,
    // so the checks below would see a probe that became a link.
    const control = await open('probe/index.html');
    await control.evaluate(
      `(() => { const a = document.createElement('a'); a.href = 'java\\tscript:alert(99)'; a.textContent = 'x'; document.body.appendChild(a); })()`,
    );
    await control.evaluate(clickLink('document.querySelectorAll("a").length - 1'));
    await control.waitForTimeout(300);
    expect(dialogs).to.deep.equal(['99']);
    dialogs.length = 0;
    await control.close();

    expect(probePages.length).to.equal(1 + Math.ceil(URL_PROBES.length / 4));
    let clicked = 0;
    for (const [k, rel] of probePages.entries()) {
      const page = await open(rel);
      expect(await page.evaluate('document.querySelectorAll("meta[http-equiv]").length'), rel).to.equal(0);
      // Every URL-bearing attribute resolves to this site.
      const urls: { tag: string; attr: string; value: string; resolved: string }[] =
        await page.evaluate(`Array.from(document.querySelectorAll('*')).flatMap((el) =>
        Array.from(el.attributes).filter((a) => /^(href|src|action|formaction|xlink:href|srcset|poster|data|ping)$/i.test(a.name))
          .map((a) => ({ tag: el.tagName, attr: a.name, value: a.value, resolved: new URL(a.value, document.baseURI).href })))`);
      expect(urls.length, rel).to.be.greaterThan(2);
      for (const u of urls) expect(new URL(u.resolved).origin, `${rel}: ${JSON.stringify(u)}`).to.equal(origin);
      // No bidi control reaches the title or the text.
      const text: string = await page.evaluate('document.title + "\\n" + document.documentElement.textContent');
      for (const c of BIDI) expect(text.includes(c), `${rel}: U+${c.charCodeAt(0).toString(16)}`).to.equal(false);
      if (rel.includes('/entries/')) expect(await page.title(), rel).to.match(/^probe \d+ \[U\+202E\]gnp\.exe \[U\+202A\]/);
      // Click every link of the index and two entry pages (the others have the same links), each on a
      // fresh load of the page: wherever it goes, it stays on this site.
      const n: number = k < 3 ? await page.evaluate('document.querySelectorAll("a").length') : 0;
      for (let i = 0; i < n; i++) {
        if (i > 0) await page.goto(server!.url + rel, { waitUntil: 'load' });
        const download: boolean = await page.evaluate(`document.querySelectorAll('a')[${i}].hasAttribute('download')`);
        // A page link loads a page, a download link downloads; a javascript: link would do neither.
        const done = download ? page.waitForEvent('download', { timeout: 20000 }) : page.waitForEvent('load', { timeout: 20000 });
        const href: string = await page.evaluate(clickLink(String(i)));
        await done;
        expect(new URL(page.url()).origin, `${rel}: link ${i} (${href})`).to.equal(origin);
        clicked++;
      }
      await page.close();
    }
    expect(clicked).to.be.greaterThan(15);
    expect(dialogs).to.deep.equal([]);
    expect(requests.filter((u) => !u.startsWith(server!.url))).to.deep.equal([]);
  });
});
