/**
 * Study pages: the study definition schema and its errors (file and field named), the ordering
 * verdicts from Wilson intervals (hand-computed cases), and a fixture study built into a site: finished
 * cells show their numbers and intervals, unfinished ones say so and show no number, each check gets
 * the verdict its intervals call for, the figure is copied, and every link is relative.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError } from '@dbp-bench/core';
import { buildSite, orderingVerdict, readStudy, validateStudy, VERDICT_TEXT, type Metric } from '../src';
import { studyFixture, WIDE_FIGURE_SVG } from './site-fixtures';

const tmp = (prefix: string): string => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const metric = (value: number, lower: number, upper: number): Metric => ({
  value,
  n: 256,
  ci: { lower, upper, level: 0.95, method: 'wilson' },
});

describe('study definition (schema/study.schema.json)', () => {
  it('names every missing field and refuses unknown ones with a hint', () => {
    const e = thrown(() => validateStudy({ schemaVersion: 1, id: 'x' }, 'my-study.json'));
    expect(e).to.be.instanceOf(ConfigValidationError);
    expect(e.message).to.contain('my-study.json is invalid');
    for (const f of ['title', 'dataset', 'threatModel', 'dwBox', 'addt', 'baselines', 'checks', 'figures'])
      expect((e as ConfigValidationError).problems).to.include(`$.${f}: is required`);
    const dir = tmp('dbp-study-');
    const { study } = studyFixture(dir);
    const typo = structuredClone(study) as { dwBox: { rows: { cells: Record<string, string> }[] } };
    typo.dwBox.rows[1].cells.dwBoht = 'st-ddim-dw-both';
    const m = thrown(() => validateStudy(typo, 'typo.json')).message;
    expect(m).to.contain('$.dwBox.rows[1].cells.dwBoht: is not a known field (did you mean `dwBoth`?)');
  });

  it('refuses entry ids that are not safe ids, figure paths that leave the study directory, and a check of an entry against itself', () => {
    const dir = tmp('dbp-study-');
    const { study } = studyFixture(dir);
    const bad = structuredClone(study) as {
      checks: { higher: string; lower: string }[];
      figures: { file: string }[];
      baselines: { entry: string }[];
    };
    bad.checks[0].higher = '../x';
    bad.checks[1].lower = bad.checks[1].higher;
    bad.baselines[0].entry = 'a b';
    bad.figures.push({ file: '../outside.png' }, { file: '/abs/x.png' }, { file: 'figs/page.html' }, { file: 'figs/./wide.svg' });
    for (const f of bad.figures.slice(1)) (f as { caption?: string }).caption = 'c';
    const e = thrown(() => validateStudy(bad, 'bad.json')) as ConfigValidationError;
    const text = e.problems.join('\n');
    expect(text).to.match(/\$\.checks\[0\]\.higher: must match pattern/);
    expect(text).to.match(/\$\.baselines\[0\]\.entry: must match pattern/);
    for (const i of [1, 2, 3, 4]) expect(text).to.match(new RegExp(`\\$\\.figures\\[${i}\\]\\.file: must match pattern`));
    // the schema passes a check of an entry against itself; the rule after it does not
    const self = structuredClone(study) as { checks: { higher: string; lower: string }[] };
    self.checks[1].lower = self.checks[1].higher;
    expect(thrown(() => validateStudy(self, 'self.json')).message).to.contain(
      '$.checks[1]: higher and lower are the same entry "st-ddim-wb"',
    );
  });

  it('readStudy names the file and $.figures[i].file for a missing figure or one that leads out through a symbolic link', () => {
    const dir = tmp('dbp-study-');
    const { study, studyFile } = studyFixture(dir);
    expect(readStudy(studyFile).figures.map((f) => f.source)).to.deep.equal([path.join(dir, 'figs', 'wide.svg')]);
    const missing = structuredClone(study) as { figures: { file: string; caption: string }[] };
    missing.figures.push({ file: 'figs/none.png', caption: 'missing' });
    fs.writeFileSync(studyFile, JSON.stringify(missing));
    let e = thrown(() => readStudy(studyFile));
    expect(e).to.be.instanceOf(DataFormatError);
    expect(e.message).to.contain(studyFile).and.contain('$.figures[1].file: "figs/none.png" does not exist');
    const outside = tmp('dbp-study-outside-');
    fs.writeFileSync(path.join(outside, 'secret.png'), 'x');
    fs.symlinkSync(path.join(outside, 'secret.png'), path.join(dir, 'figs', 'link.png'));
    missing.figures[1].file = 'figs/link.png';
    fs.writeFileSync(studyFile, JSON.stringify(missing));
    e = thrown(() => readStudy(studyFile));
    expect(e.message).to.contain(studyFile).and.contain('$.figures[1].file: "figs/link.png" resolves to').and.contain('outside the study');
    fs.writeFileSync(studyFile, '{"schemaVersion": 1,');
    expect(thrown(() => readStudy(studyFile)).message).to.contain(studyFile);
  });
});

describe('ordering verdicts from 95% Wilson intervals', () => {
  it('separated, overlapping, equal, reversed and unfinished pairs (hand-made intervals)', () => {
    expect(orderingVerdict(metric(60, 55, 65), metric(40, 35, 45)).verdict).to.equal('separated');
    // touching intervals are not separated
    expect(orderingVerdict(metric(60, 45, 65), metric(40, 35, 45)).verdict).to.equal('overlap');
    expect(orderingVerdict(metric(50.78, 44.69, 56.85), metric(46.88, 40.85, 52.99)).verdict).to.equal('overlap');
    // equal point estimates: '>' does not hold, '>=' holds on the point estimates
    expect(orderingVerdict(metric(50, 44, 56), metric(50, 44, 56)).verdict).to.equal('reversed');
    expect(orderingVerdict(metric(50, 44, 56), metric(50, 44, 56), '>=').verdict).to.equal('overlap');
    const rev = orderingVerdict(metric(35.16, 29.57, 41.19), metric(42.97, 37.05, 49.09));
    expect(rev).to.deep.equal({ verdict: 'reversed', detail: 'the other way round on the point estimates, intervals overlap' });
    expect(orderingVerdict(metric(20, 15, 25), metric(60, 55, 65)).detail).to.equal('the other way round, with separated intervals');
    expect(orderingVerdict(null, metric(40, 35, 45))).to.deep.equal({
      verdict: 'not-finished',
      detail: 'the higher cell has no result yet',
    });
    expect(orderingVerdict(undefined, null).detail).to.equal('neither cell has a result yet');
    // without an interval nothing is separated
    expect(orderingVerdict({ value: 90, n: null, ci: null }, metric(10, 5, 15)).verdict).to.equal('overlap');
  });
});

describe('study page of the site', () => {
  let site = '';
  let html = '';
  let index = '';
  const cellOf = (id: string): string => {
    const m = new RegExp(`<td class="cell num[^"]*" data-entry="${id}">(.*?)</td>`).exec(html);
    expect(m, `cell ${id}`).to.not.equal(null);
    return m![1];
  };
  const verdictOf = (claim: string): { verdict: string; text: string } => {
    const row = html.split('<tr>').find((r) => r.startsWith(`<td class="label">${claim}</td>`));
    expect(row, `row ${claim}`).to.not.equal(undefined);
    const m = /<span class="verdict ([a-z-]+)">([^<]*)<\/span>/.exec(row!)!;
    return { verdict: m[1], text: m[2] };
  };

  before(async () => {
    const dir = tmp('dbp-study-');
    const { entries, studyFile } = studyFixture(dir);
    site = path.join(tmp('dbp-study-site-'), 'site');
    const res = await buildSite(
      entries.map((entry) => ({ entry })),
      site,
      { now: new Date('2025-01-02T00:00:00Z'), studies: [readStudy(studyFile)] },
    );
    expect(res.studies).to.deep.equal([path.join(site, 'study-fixture.html')]);
    html = fs.readFileSync(path.join(site, 'study-fixture.html'), 'utf8');
    index = fs.readFileSync(res.index, 'utf8');
  });

  it('finished cells show robust %, its 95% interval, Wor.Rob, clean % and n, linking the entry page', () => {
    expect(cellOf('st-ddpm-wb')).to.equal(
      '<a href="entries/cifar10__linf-8_255__st-ddpm-wb.html" title="DP_DDPM white-box">78.13</a><span class="ci">[72.67, 82.75]</span>' +
        // Wor.Rob of the fixture: round(200 x 0.7) = 140 of 256 = 54.69 %; clean 240/256 = 93.75 %
        '<span class="sub">Wor 54.69 · clean 93.75 · n 256</span>',
    );
    expect(cellOf('st-ddpm-dw-both')).to.contain('>39.06</a><span class="ci">[33.29, 45.16]</span>');
    expect(cellOf('st-at')).to.contain('>58.59</a><span class="ci">[52.48, 64.46]</span>').and.contain('Wor – · clean 89.84');
    expect(fs.existsSync(path.join(site, 'entries', 'cifar10__linf-8_255__st-ddpm-wb.html'))).to.equal(true);
  });

  it('unfinished cells say "not finished" and show no number, also for an id that exists only under another threat model', () => {
    for (const id of ['st-ddpm-dw-fwd', 'st-ddpm-addt-wb', 'st-ddpm-dw-rev'])
      expect(cellOf(id)).to.equal('<span class="pending">not finished</span>');
    // columns a row leaves out are not part of the study
    expect(html.match(/title="not part of this study">–<\/td>/g)).to.have.length(4);
    // 10 ids named (8 in the DW-box table, 1 more in the ADDT pair, 1 baseline); 7 have entries here
    expect(html).to.contain('7 of 10 cells finished');
  });

  it('evaluates each ordering check from the intervals', () => {
    expect(verdictOf('DP_DDPM: white-box &gt; DW_Both')).to.deep.equal({ verdict: 'separated', text: VERDICT_TEXT.separated });
    expect(verdictOf('DP_DDIM: white-box &gt; DW_Both')).to.deep.equal({ verdict: 'overlap', text: VERDICT_TEXT.overlap });
    expect(verdictOf('GDMP: white-box &gt; DW_Both')).to.deep.equal({ verdict: 'reversed', text: 'does not hold' });
    expect(verdictOf('DP_DDPM white-box: ADDT &gt;= vanilla')).to.deep.equal({ verdict: 'not-finished', text: 'not finished' });
    expect(VERDICT_TEXT.overlap).to.equal('holds on the point estimates, intervals overlap (n too small to tell)');
  });

  it('copies the figure, escapes study text, and links it all relatively from the index', () => {
    expect(fs.readFileSync(path.join(site, 'studies', 'fixture', 'figs', 'wide.svg'), 'utf8')).to.equal(WIDE_FIGURE_SVG);
    expect(html).to.contain('<img src="studies/fixture/figs/wide.svg" alt="A wide figure, made by dbp-bench analyze landscape.">');
    // an SVG is shown only through <img> (where its scripts cannot run), never linked as a document
    expect(html).to.not.contain('href="studies/fixture/figs/wide.svg"');
    expect(html).to.contain('<figcaption>A wide figure, made by <code>dbp-bench analyze landscape</code>.</figcaption>');
    expect(html).to.contain('Fixture study &lt;b&gt;not bold&lt;/b&gt;').and.not.contain('<b>not bold');
    expect(html).to.contain('&lt;script&gt;window.__pwned=1&lt;/script&gt;').and.not.contain('<script>window');
    expect(index).to.contain('<nav class="site-nav"><b>Studies:</b> <a href="study-fixture.html">');
    for (const [file, text] of [
      ['study-fixture.html', html],
      ['index.html', index],
    ]) {
      const refs = [...text.matchAll(/(?:href|src)="([^"]*)"/g)].map((m) => m[1]);
      expect(refs.length).to.be.greaterThan(3);
      for (const r of refs) {
        expect(r, `${file}: ${r}`).to.not.match(/^([a-z][a-z0-9+.-]*:|\/)/i);
        expect(fs.existsSync(path.join(site, r)), `${file}: ${r} exists in the site`).to.equal(true);
      }
    }
  });

  it('rebuilds over a site with study pages (listed in the sitemap), and refuses two studies with one id', async () => {
    const dir = tmp('dbp-study-');
    const { entries, studyFile } = studyFixture(dir);
    const s = readStudy(studyFile);
    const res = await buildSite(
      entries.map((entry) => ({ entry })),
      site,
      { studies: [s], baseUrl: 'https://example.org/lb/' },
    );
    expect(fs.readFileSync(res.sitemap!, 'utf8')).to.contain('<url><loc>https://example.org/lb/study-fixture.html</loc></url>');
    let err: unknown;
    try {
      await buildSite(
        entries.map((entry) => ({ entry })),
        site,
        { studies: [s, { ...s, file: 'second.json' }] },
      );
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as Error).message).to.contain("second.json: $.id: study id 'fixture' is already the id of");
    expect(fs.existsSync(path.join(site, 'study-fixture.html'))).to.equal(true);
  });
});
