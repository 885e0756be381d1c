import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSite, readStudy } from '../src';
import { findChromium, launchChromium, serve, type HeadlessChromium } from './helpers';
import { realisticEntries, studyFixture } from './site-fixtures';

/**
 * The site as people look at it: the realistic leaderboard in headless Chromium at 1400 px (a laptop)
 * and 390 px (a phone). The page never scrolls sideways, and every headline number (worst case) and
 * defense name lies inside the window; at 1400 px the whole table fits without scrolling its box.
 * A study page (the fixture study, built as a second site under study/) keeps its tables in their own
 * scroll boxes and its figures inside the window at both widths.
 * With DBP_SCREENSHOTS=<dir> (`npm run screenshots` sets docs/) it also writes the screenshots shown
 * in the README.
 */
describe('leaderboard site layout in headless Chromium (1400 px and 390 px)', function () {
  this.timeout(180000);
  let chrome: HeadlessChromium | undefined;
  let server: { url: string; close(): Promise<void> } | undefined;
  const shots = process.env.DBP_SCREENSHOTS;

  before(async function () {
    const exe = findChromium();
    if (!exe) {
      console.log('      (skipping layout tests: no chromium on PATH; install Debian `chromium` or set CHROMIUM_PATH)');
      this.skip();
    }
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-layout-')));
    await buildSite(
      realisticEntries().map((entry) => ({ entry })),
      base,
      { now: new Date('2025-01-02T00:00:00Z'), title: 'dbp-bench leaderboard' },
    );
    const studyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-layout-study-'));
    const fixture = studyFixture(studyDir);
    await buildSite(
      fixture.entries.map((entry) => ({ entry })),
      path.join(base, 'study'),
      { now: new Date('2025-01-02T00:00:00Z'), studies: [readStudy(fixture.studyFile)] },
    );
    server = await serve(base);
    chrome = await launchChromium(exe, server.url);
  });

  after(async () => {
    await chrome?.close();
    await server?.close();
  });

  interface Layout {
    innerWidth: number;
    scrollWidth: number;
    headline: { text: string; left: number; right: number }[];
    names: { text: string; left: number; right: number }[];
    boxes: { scrollWidth: number; clientWidth: number }[];
  }
  const measure = `(() => {
    const rect = (el) => { const r = el.getBoundingClientRect(); return { text: el.textContent.trim(), left: r.left, right: r.right }; };
    return {
      innerWidth: window.innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
      headline: Array.from(document.querySelectorAll('table.lb td.worst > a')).map(rect),
      names: Array.from(document.querySelectorAll('table.lb td.model > a:first-child')).map(rect),
      boxes: Array.from(document.querySelectorAll('.table-wrap')).map((b) => ({ scrollWidth: b.scrollWidth, clientWidth: b.clientWidth })),
    };
  })()`;

  for (const width of [1400, 390]) {
    it(`index at ${width} px: no sideways page scroll, every headline number and defense name inside the window`, async () => {
      const page = await chrome!.context.newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(server!.url + 'index.html', { waitUntil: 'load' });
      const l: Layout = await page.evaluate(measure);
      if (shots) {
        fs.mkdirSync(shots, { recursive: true });
        await page.screenshot({ path: path.join(shots, `leaderboard-${width}.png`), fullPage: width >= 1400 });
      }
      expect(l.innerWidth).to.equal(width);
      expect(l.scrollWidth, 'page scroll width').to.be.at.most(l.innerWidth);
      expect(l.headline.length).to.be.greaterThan(8);
      for (const c of l.headline) {
        expect(c.text).to.match(/^\d+\.\d$/);
        expect(c.left, `headline ${c.text}`).to.be.at.least(0);
        expect(c.right, `headline ${c.text}`).to.be.at.most(width);
      }
      for (const c of l.names) expect(c.right, `name ${c.text}`).to.be.at.most(width);
      if (width >= 1400) for (const b of l.boxes) expect(b.scrollWidth, 'table box at 1400 px').to.be.at.most(b.clientWidth);
      await page.close();
    });
  }

  for (const width of [1400, 390]) {
    it(`study page at ${width} px: no sideways page scroll, tables in their own scroll boxes, figures inside the window`, async () => {
      const page = await chrome!.context.newPage();
      await page.setViewportSize({ width, height: 900 });
      await page.goto(server!.url + 'study/study-fixture.html', { waitUntil: 'load' });
      const l: {
        scrollWidth: number;
        innerWidth: number;
        tables: { inBox: boolean; scrollWidth: number; clientWidth: number; right: number }[];
        figures: { right: number; width: number; loaded: boolean }[];
        pending: number;
      } = await page.evaluate(`({
        scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
        tables: Array.from(document.querySelectorAll('table.study')).map((t) => {
          const box = t.parentElement;
          return { inBox: box.classList.contains('table-wrap'), scrollWidth: box.scrollWidth, clientWidth: box.clientWidth, right: box.getBoundingClientRect().right };
        }),
        figures: Array.from(document.querySelectorAll('figure.study-fig img')).map((i) => ({ right: i.getBoundingClientRect().right, width: i.getBoundingClientRect().width, loaded: i.complete && i.naturalWidth > 0 })),
        pending: document.querySelectorAll('td.pending').length })`);
      if (shots) await page.screenshot({ path: path.join(shots, `leaderboard-study-${width}.png`), fullPage: true });
      expect(l.scrollWidth, 'page scroll width').to.be.at.most(l.innerWidth);
      expect(l.tables.length).to.equal(4);
      for (const t of l.tables) {
        expect(t.inBox, 'table inside a .table-wrap box').to.equal(true);
        expect(t.right).to.be.at.most(width);
        if (width >= 1400) expect(t.scrollWidth, 'table box at 1400 px').to.be.at.most(t.clientWidth);
      }
      expect(l.figures.length).to.equal(1);
      for (const f of l.figures) {
        expect(f.loaded, 'figure loaded').to.equal(true);
        expect(f.right).to.be.at.most(width);
        expect(f.width).to.be.greaterThan(Math.min(300, width / 2));
      }
      expect(l.pending).to.be.greaterThan(0);
      await page.close();
    });
  }

  it('entry page at 390 px: no sideways page scroll; the curve and histograms are drawn', async () => {
    const page = await chrome!.context.newPage();
    await page.setViewportSize({ width: 390, height: 900 });
    await page.goto(server!.url + 'entries/cifar10__linf-8_255__diffpure-dw.html', { waitUntil: 'load' });
    const l: { scrollWidth: number; innerWidth: number; curve: number; hists: number } = await page.evaluate(`({
      scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
      curve: document.querySelector('svg.curve').getBoundingClientRect().width,
      hists: document.querySelectorAll('svg.hist').length })`);
    expect(l.scrollWidth).to.be.at.most(l.innerWidth);
    expect(l.curve).to.be.greaterThan(300);
    expect(l.hists).to.equal(2);
    if (shots) {
      await page.setViewportSize({ width: 1000, height: 900 });
      await page.evaluate(`document.querySelector('h3').scrollIntoView()`);
      await page.screenshot({ path: path.join(shots, 'leaderboard-entry.png') });
    }
    await page.close();
  });
});
