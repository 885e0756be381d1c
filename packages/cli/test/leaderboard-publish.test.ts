/**
 * Publishing a leaderboard: `leaderboard validate` on a submission made by a real (tiny) run, and on
 * tampered copies of it (an entry number changed, a results file edited with and without updating
 * the entry's sha256, a duplicate id, a misplaced entry); `leaderboard build` gives a site that deploys
 * unchanged to a static host (relative links only, `.nojekyll`, `sitemap.xml` with --base-url), is
 * built aside and replaces --out only when complete, and handles Ctrl-C: a first one finishes the
 * site, a second abandons it and leaves the previous site intact.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DbpError, sha256 } from '@dbp-bench/framework';
import { accuracyMetric, readEntry, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { drawRecord, nextAnyState, sampleChecks, type SampleRecord } from '@dbp-bench/runner';
import { runCliCaptured, writeSyntheticRunConfig, type CliRun } from '../src/testing';
import { SYNTHETIC_EPS } from '../src/synthetic';

const BIN = path.resolve(__dirname, '../../bin/dbp-bench.js');
const MAIN = path.resolve(__dirname, '../src/main.js');
const FIXTURES = path.resolve(__dirname, '../../../../leaderboard/test/fixtures');
const ENTRY = path.join('synthetic', 'linf-0.1', 'synthetic-identity-pgd.json');
const RESULTS = path.join('synthetic', 'linf-0.1', 'synthetic-identity-pgd.results.jsonl');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-publish-'));
}

/** A copy of the submission tree in a fresh directory (each tampering starts from the good one). */
function copyOf(entries: string): string {
  const dir = path.join(tmp(), 'entries');
  fs.cpSync(entries, dir, { recursive: true });
  return dir;
}

const readJson = (file: string): LeaderboardEntry => JSON.parse(fs.readFileSync(file, 'utf8')) as LeaderboardEntry;
/** Written raw, as an edited file in a pull request would be. */
const writeJson = (file: string, value: unknown): void => fs.writeFileSync(file, JSON.stringify(value, null, 2));
const readRecords = (file: string): SampleRecord[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as SampleRecord);
const recordsText = (records: readonly SampleRecord[]): string => records.map((r) => JSON.stringify(r)).join('\n') + '\n';

/** The message of a refused submission (a typed error, one line per problem after the first). */
function refused(r: CliRun): string {
  expect(r.error, r.stdout).to.be.instanceOf(DbpError);
  expect((r.error as DbpError).code).to.equal('E_SUBMISSION');
  return r.error!.message;
}

/** `dbp-bench leaderboard validate <dir>` in this process. */
async function validate(...args: string[]): Promise<CliRun> {
  return runCliCaptured(['leaderboard', 'validate', ...args]);
}

/** Every file under `dir`, relative, sorted. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe('cli: publishing a leaderboard (validate a submission, build a deployable site)', function () {
  this.timeout(120000);
  /** The good submission: a tiny real run's entry and results file, plus imported (reported) entries. */
  let good: string;

  before(async () => {
    const dir = tmp();
    writeSyntheticRunConfig(dir, 16, 'synthetic-identity-pgd');
    good = path.join(dir, 'entries');
    const run = await runCliCaptured(['run', path.join(dir, 'run.json'), '--out', path.join(dir, 'runs'), '--entries', good]);
    expect(run.error, run.stderr).to.equal(undefined);
    expect(run.code).to.equal(0);
    const imp = await runCliCaptured(['leaderboard', 'import-robustbench', path.join(FIXTURES, 'model_info'), '--out', good]);
    expect(imp.code, imp.stderr).to.equal(0);
  });

  describe('leaderboard validate', () => {
    it('passes the submission as `run` wrote it: measured entries re-computed, reported ones schema only', async () => {
      const r = await validate(good);
      expect(r.error, r.stderr).to.equal(undefined);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(
        /OK: 5 entries valid: 1 measured \(re-computed from their per-sample results files\), 4 reported \(imported numbers: schema and rules only/,
      );
      const json = await validate('--json', good);
      const report = JSON.parse(json.stdout) as { ok: boolean; entries: { id: string; status: string; records: number | null }[] };
      expect(report.ok).to.equal(true);
      expect(report.entries.find((e) => e.id === 'synthetic-identity-pgd')).to.include({ status: 'checked', records: 16 });
    });

    it('refuses a changed number in the entry (clean accuracy raised), naming the file and field', async () => {
      const entries = copyOf(good);
      const file = path.join(entries, ENTRY);
      const e = readJson(file);
      const n = e.dataset.n!;
      const s = e.results.clean!.successes!;
      // consistent within the entry (the schema and rules pass): only the records say otherwise
      e.results.clean = accuracyMetric(s + 1, n);
      e.values.measured!.clean = e.results.clean.value;
      writeJson(file, e);
      expect(() => readEntry(file)).to.not.throw();
      const r = await validate(entries);
      const rText = refused(r);
      const c = e.results.clean;
      expect(rText).to.include(
        `${file}: $.results.clean: the entry says ${c.value}% (${s + 1} of ${n}, 95% CI [${c.ci!.lower}, ${c.ci!.upper}]), the records give ${accuracyMetric(s, n).value}% (${s} of ${n}`,
      );
      expect(rText).to.include(
        `${file}: $.values.measured.clean: the entry says ${c.value}, the records give ${accuracyMetric(s, n).value}`,
      );
      expect(rText).to.not.include('$.resultsFile.sha256');
      expect(rText).to.match(/^1 of 5 entries failed validation \(1 measured/);
    });

    it('refuses a results file edited after the run (a prediction changed): sha256 mismatch, exit 1 from the bin', () => {
      const entries = copyOf(good);
      const file = path.join(entries, ENTRY);
      const results = path.join(entries, RESULTS);
      const records = readRecords(results);
      records[1].clean.predictions[0] = (records[1].clean.predictions[0] + 1) % 4;
      fs.writeFileSync(results, recordsText(records));
      const r = spawnSync(process.execPath, [BIN, 'leaderboard', 'validate', entries], { encoding: 'utf8', timeout: 60000 });
      expect(r.status).to.equal(1);
      const lines = r.stderr.trim().split('\n');
      expect(lines[0]).to.match(/^error: 1 of 5 entries failed validation/);
      expect(lines[1]).to.equal(
        `${file}: $.resultsFile.sha256: the entry says ${readEntry(file).resultsFile!.sha256}, ${results} has sha256 ${sha256(recordsText(records))} (the file or the entry was changed after the run)`,
      );
      // and the edited record itself no longer agrees with its own predictions
      expect(r.stderr).to.include(`${results}: line 2 (position 1, dataset index 1) clean.mean is`);
    });

    it('refuses a results file edited consistently with its sha256 updated in the entry: the aggregates disagree', async () => {
      const entries = copyOf(good);
      const file = path.join(entries, ENTRY);
      const results = path.join(entries, RESULTS);
      const e = readJson(file);
      const records = readRecords(results);
      // Turn a sample fooled on the clean input into one the attack "failed" on: every field consistent.
      const k = records.findIndex((r) => r.robust === 0);
      expect(k).to.be.at.least(0);
      const r0 = records[k];
      const correct = drawRecord(r0.label, [r0.label]);
      const a0 = r0.attacks[0];
      const eps = SYNTHETIC_EPS;
      records[k] = {
        ...r0,
        clean: correct,
        attacks: [
          {
            name: a0.name,
            ran: true,
            eval: correct,
            distance: { linf: eps, l2: eps * 4 },
            checks: sampleChecks({ norm: 'linf', eps, step: 0.05 }, eps, 1, { gradientVanished: false, keptClean: false }),
            robust: 1,
            robustWorst: true,
            robustMajority: true,
            ...(() => {
              const any = nextAnyState({ robust: 1, worst: true, majority: true }, undefined, correct);
              return { anyRobust: any.robust, anyWorst: any.worst, anyMajority: any.majority };
            })(),
          },
        ],
        robust: 1,
      };
      const text = recordsText(records);
      fs.writeFileSync(results, text);
      e.resultsFile!.sha256 = sha256(text);
      writeJson(file, e);
      const r = await validate(entries);
      const rText = refused(r);
      expect(rText).to.not.include('sha256');
      expect(rText).to.not.include(`${results}: line`); // every record passes its own rules
      const pct = (k: number): string => `${accuracyMetric(k, 16).value}% (${k} of 16`;
      const s = e.results.robust!.successes!;
      expect(rText).to.include(`${file}: $.results.robust: the entry says ${pct(s)}`);
      expect(rText).to.include(`the records give ${pct(s + 1)}`);
      expect(rText).to.include(`(re-computed from ${results})`);
      expect(rText).to.include(`${file}: $.results.clean: the entry says ${pct(e.results.clean!.successes!)}`);
      expect(rText).to.include(`${file}: $.results.attacks[0].checks.ran: the entry says`);
      expect(rText).to.match(/^1 of 5 entries failed validation \(1 measured/);
    });

    it('refuses a duplicate id (a second copy of the entry under another name), naming both files', async () => {
      const entries = copyOf(good);
      const copy = path.join(entries, 'synthetic', 'linf-0.1', 'a-copy.json');
      fs.copyFileSync(path.join(entries, ENTRY), copy);
      const r = spawnSync(process.execPath, [BIN, 'leaderboard', 'validate', entries], { encoding: 'utf8', timeout: 60000 });
      expect(r.status).to.equal(1);
      expect(r.stderr).to.include(copy).and.include("two entries have id 'synthetic-identity-pgd' for synthetic/linf-0.1");
    });

    it('refuses an entry outside its place, a missing results file and a wrong record count', async () => {
      const moved = copyOf(good);
      const elsewhere = path.join(moved, 'synthetic', 'other.json');
      fs.renameSync(path.join(moved, ENTRY), elsewhere);
      fs.renameSync(path.join(moved, RESULTS), path.join(moved, 'synthetic', 'synthetic-identity-pgd.results.jsonl'));
      const m = await validate(moved);
      const mText = refused(m);
      expect(mText).to.include(
        `${elsewhere}: $.id, $.dataset.id, $.threatModel.id: an entry of ${moved} lies at <dataset>/<threat>/<id>.json, here ${path.join(moved, ENTRY)}`,
      );

      const missing = copyOf(good);
      fs.rmSync(path.join(missing, RESULTS));
      const g = await validate(missing);
      const gText = refused(g);
      expect(gText).to.include(`${path.join(missing, ENTRY)}: $.resultsFile.path: ${path.resolve(missing, RESULTS)} not found`);

      const short = copyOf(good);
      const results = path.join(short, RESULTS);
      const e = readJson(path.join(short, ENTRY));
      const text = recordsText(readRecords(results).slice(0, -1));
      fs.writeFileSync(results, text);
      e.resultsFile!.sha256 = sha256(text);
      writeJson(path.join(short, ENTRY), e);
      const c = await validate(short);
      const cText = refused(c);
      expect(cText).to.include(`$.resultsFile.records: the entry says 16, ${results} holds 15 records`);
    });
  });

  describe('leaderboard build: a site for any static host', () => {
    it('writes .nojekyll, sitemap.xml with --base-url, and only relative links inside the site', async () => {
      const site = path.join(tmp(), 'site');
      const base = 'https://example.org/lb';
      const r = await runCliCaptured(['leaderboard', 'build', good, '--out', site, '--base-url', base]);
      expect(r.error, r.stderr).to.equal(undefined);
      expect(r.stdout).to.include(`sitemap: ${path.join(site, 'sitemap.xml')}`);
      expect(fs.readFileSync(path.join(site, '.nojekyll'), 'utf8')).to.equal('');
      const all = files(site);
      const pages = all.filter((f) => f.endsWith('.html'));
      expect(pages).to.include('index.html');
      expect(pages.filter((p) => p.startsWith('entries/'))).to.have.length(5);
      // the sitemap: the index and every entry page, as absolute URLs under the base
      const sitemap = fs.readFileSync(path.join(site, 'sitemap.xml'), 'utf8');
      expect(sitemap).to.match(
        /^<\?xml version="1.0" encoding="UTF-8"\?>\n<urlset xmlns="http:\/\/www\.sitemaps\.org\/schemas\/sitemap\/0\.9">/,
      );
      const locs = [...sitemap.matchAll(/<loc>([^<]*)<\/loc>/g)].map((m) => m[1]);
      expect(locs).to.have.members([
        'https://example.org/lb/',
        ...pages.filter((p) => p !== 'index.html').map((p) => `https://example.org/lb/${p}`),
      ]);
      // every href and src of every page: relative and resolving to a file of the site, or an
      // external http(s) link that comes from entry data (paper URLs)
      let external = 0;
      let relative = 0;
      for (const page of pages) {
        const html = fs.readFileSync(path.join(site, page), 'utf8');
        for (const m of html.matchAll(/\b(href|src)\s*=\s*"([^"]*)"/g)) {
          const url = m[2].replace(/&amp;/g, '&');
          if (/^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//')) {
            expect(url, `${page}: ${url}`).to.match(/^https?:\/\//);
            expect(html, `${page}: external link ${url} opens without the referrer`).to.include(`href="${m[2]}" rel="noopener noreferrer"`);
            external++;
            continue;
          }
          expect(url, `${page}: ${url}`).to.not.match(/^\//);
          const target = path.resolve(path.dirname(path.join(site, page)), decodeURIComponent(url.split('#')[0]));
          expect(target.startsWith(site + path.sep), `${page}: ${url} leads out of the site`).to.equal(true);
          expect(fs.existsSync(target), `${page}: ${url} -> ${target}`).to.equal(true);
          relative++;
        }
      }
      expect(relative).to.be.greaterThan(20);
      expect(external, 'the imported entries link their papers').to.be.greaterThan(0);
      // the results file is published next to the entry JSON
      expect(all).to.include('data/synthetic__linf-0.1__synthetic-identity-pgd.results.jsonl');
    });

    it('without --base-url writes no sitemap and says so; a bad base URL is refused before anything is written', async () => {
      const site = path.join(tmp(), 'site');
      const r = await runCliCaptured(['leaderboard', 'build', good, '--out', site]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.include('sitemap: not written (a sitemap needs absolute URLs: pass --base-url');
      expect(fs.existsSync(path.join(site, 'sitemap.xml'))).to.equal(false);
      expect(fs.existsSync(path.join(site, '.nojekyll'))).to.equal(true);
      const other = path.join(tmp(), 'site');
      const bad = await runCliCaptured(['leaderboard', 'build', good, '--out', other, '--base-url', '/leaderboard/']);
      expect(String(bad.error)).to.include('--base-url').and.include('not an absolute URL');
      expect(fs.existsSync(other)).to.equal(false);
    });

    it('replaces a previous site as a whole, and refuses an --out that holds other files', async () => {
      const parent = tmp();
      const site = path.join(parent, 'site');
      expect((await runCliCaptured(['leaderboard', 'build', good, '--out', site, '--title', 'first'])).code).to.equal(0);
      fs.writeFileSync(path.join(site, 'entries', 'stale.html'), 'a page of an entry since removed');
      expect((await runCliCaptured(['leaderboard', 'build', good, '--out', site, '--title', 'second'])).code).to.equal(0);
      expect(fs.readFileSync(path.join(site, 'index.html'), 'utf8')).to.include('<title>second</title>');
      expect(fs.existsSync(path.join(site, 'entries', 'stale.html'))).to.equal(false);
      expect(fs.readdirSync(parent)).to.deep.equal(['site']); // no staging directory left
      // the site is readable as a directory made as usual is (not private like a temporary directory)
      fs.mkdirSync(path.join(parent, 'usual'));
      const mode = (p: string): number => fs.statSync(p).mode & 0o777;
      expect(mode(site).toString(8)).to.equal(mode(path.join(parent, 'usual')).toString(8));
      fs.rmdirSync(path.join(parent, 'usual'));
      const mine = path.join(tmp(), 'mine');
      fs.mkdirSync(mine);
      fs.writeFileSync(path.join(mine, 'notes.txt'), 'keep me');
      const r = await runCliCaptured(['leaderboard', 'build', good, '--out', mine]);
      expect(String(r.error)).to.include(mine).and.include('holds files a site does not (notes.txt)');
      expect(fs.readdirSync(mine)).to.deep.equal(['notes.txt']);
    });

    /**
     * `leaderboard build` in a child process whose file writes into the staging directory send it
     * SIGINT: at the first write, and (with `twice`) again at a write after the first was handled.
     */
    function interruptedBuild(entries: string, site: string, twice: boolean): { status: number | null; stderr: string; stdout: string } {
      const script = path.join(tmp(), 'interrupt.js');
      fs.writeFileSync(
        script,
        `'use strict';
const fs = require('fs');
let handled = false, first = false, second = false;
process.on('SIGINT', () => { handled = true; });
const open = fs.openSync;
fs.openSync = function (p, ...rest) {
  if (String(p).startsWith(${JSON.stringify(site + '.tmp-')})) {
    if (!first) { first = true; process.kill(process.pid, 'SIGINT'); }
    else if (${twice} && handled && !second) { second = true; process.kill(process.pid, 'SIGINT'); }
  }
  return open.call(this, p, ...rest);
};
require(${JSON.stringify(MAIN)}).main(['node', 'dbp-bench', '--log-level', 'warn', ...process.argv.slice(2)]).then(
  (code) => process.exit(code),
  (e) => { console.error('error: ' + e.message); process.exit(1); },
);
`,
      );
      const r = spawnSync(process.execPath, [script, 'leaderboard', 'build', entries, '--out', site, '--title', 'new'], {
        encoding: 'utf8',
        timeout: 60000,
      });
      return { status: r.status, stderr: r.stderr, stdout: r.stdout };
    }

    it('Ctrl-C once finishes the site (the unit) and keeps it; twice abandons it and leaves the previous site intact', async () => {
      const parent = tmp();
      const site = path.join(parent, 'site');
      const once = interruptedBuild(good, site, false);
      expect(once.status, once.stderr).to.equal(0);
      expect(once.stderr).to.include('SIGINT: stopping after the current site');
      expect(once.stderr).to.include(`SIGINT: the site was completed before stopping; ${site} holds the new site`);
      expect(fs.readFileSync(path.join(site, 'index.html'), 'utf8')).to.include('<title>new</title>');

      expect((await runCliCaptured(['leaderboard', 'build', good, '--out', site, '--title', 'previous'])).code).to.equal(0);
      const before = files(site).map((f) => [f, fs.readFileSync(path.join(site, f), 'utf8')]);
      const twice = interruptedBuild(good, site, true);
      expect(twice.status, twice.stderr).to.equal(130);
      expect(twice.stderr).to.include(
        'SIGINT again: abandoning the current site. The temporary directory the site was being built in was removed',
      );
      expect(twice.stderr).to.include(
        `the previous site in ${site} is intact. Build it again with: dbp-bench leaderboard build ${good} --out ${site}`,
      );
      expect(files(site).map((f) => [f, fs.readFileSync(path.join(site, f), 'utf8')])).to.deep.equal(before);
      expect(fs.readdirSync(parent)).to.deep.equal(['site']); // the staging directory was removed
    });
  });
});
