/**
 * The leaderboard builds its site without TensorFlow.js: in a fresh process, the built package is
 * required, two measured entries (test helpers) and the RobustBench fixtures are written, validated,
 * loaded and published as a site; then no module under `@tensorflow/` may be in `require.cache`.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const LEADERBOARD = path.resolve(__dirname, '..', 'src');
const HELPERS = path.resolve(__dirname, 'helpers');
const TENSORFLOW = /[\\/]node_modules[\\/]@tensorflow[\\/]/;

describe('leaderboard without TensorFlow.js', function () {
  this.timeout(60_000);

  it('builds a site from entries loading no @tensorflow module (fresh process)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-lb-notf-'));
    try {
      const entries = path.join(dir, 'entries');
      const site = path.join(dir, 'site');
      const script = `
        const lb = require(${JSON.stringify(LEADERBOARD)});
        const { measuredEntry, FIXTURES } = require(${JSON.stringify(HELPERS)});
        const path = require('node:path');
        const entries = ${JSON.stringify(entries)};
        for (const e of [measuredEntry({ id: 'dbp-a', robust: 40 }), measuredEntry({ id: 'at-b', family: 'at', robust: 55 })]) {
          lb.writeEntry(lb.entryPath(entries, e), e);
        }
        for (const { entry } of lb.importRobustBench(path.join(FIXTURES, 'model_info')).entries) lb.writeEntry(lb.entryPath(entries, entry), entry);
        const loaded = lb.loadEntries(entries);
        lb.buildSite(loaded, ${JSON.stringify(site)}, { title: 'no tensorflow' }).then((res) => {
          console.log(JSON.stringify({ entries: loaded.length, pages: res.pages.length, index: res.index, modules: Object.keys(require.cache) }));
        }, (e) => { console.error(e); process.exit(1); });`;
      const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
        entries: number;
        pages: number;
        index: string;
        modules: string[];
      };
      expect(out.entries).to.be.at.least(4);
      expect(out.pages).to.equal(out.entries);
      expect(fs.readFileSync(out.index, 'utf8')).to.include('no tensorflow').and.include('dbp-a').and.include('at-b');
      expect(
        out.modules.some((m) => m.includes(`${path.sep}core${path.sep}dist${path.sep}`)),
        '@dbp-bench/core was loaded',
      ).to.equal(true);
      expect(out.modules.filter((m) => TENSORFLOW.test(m))).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
