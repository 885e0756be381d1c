/**
 * `dbp-bench leaderboard build --study`: the project's own MNIST study definition over the project's
 * entries. Every cell whose entry exists shows that entry's robust accuracy and interval, every other
 * cell says "not finished" (so the page fills itself in as the study's entries land); the figures are
 * copied; a broken study file is refused before anything is built, naming the file and the field.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readEntry, readStudy, studyEntryIds } from '@dbp-bench/leaderboard';
import { runCliCaptured } from '../src/testing';

const ROOT = path.resolve(__dirname, '../../../..');
const ENTRIES = path.join(ROOT, 'leaderboard', 'entries');
const STUDY = path.join(ROOT, 'studies', 'mnist', 'study.json');

describe('leaderboard build --study (the MNIST study page)', function () {
  this.timeout(60000);

  it('renders the MNIST study from whatever entries exist: numbers for finished cells, "not finished" for the others', async () => {
    const site = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-study-cli-')), 'site');
    const r = await runCliCaptured(['leaderboard', 'build', ENTRIES, '--out', site, '--study', STUDY]);
    expect(r.error, r.stderr).to.equal(undefined);
    const { study, figures } = readStudy(STUDY);
    const ids = studyEntryIds(study);
    const dir = path.join(ENTRIES, study.dataset, study.threatModel);
    const done = ids.filter((id) => fs.existsSync(path.join(dir, `${id}.json`)));
    // the AT baselines are finished; the DBP cells land later
    expect(done).to.include.members(['study-mnist-undefended-pgd10', 'study-mnist-pgd-at-pgd10']);
    expect(r.stdout).to.contain(
      `study: ${path.join(site, 'study-mnist.html')} (${done.length} of ${ids.length} cells finished, ${figures.length} figures)`,
    );
    const html = fs.readFileSync(path.join(site, 'study-mnist.html'), 'utf8');
    for (const id of ids) {
      const cell = new RegExp(`<td class="cell num[^"]*" data-entry="${id}">(.*?)</td>`).exec(html)?.[1];
      expect(cell, id).to.be.a('string');
      if (done.includes(id)) {
        const robust = readEntry(path.join(dir, `${id}.json`)).results.robust!;
        expect(cell).to.contain(
          `>${robust.value.toFixed(2)}</a><span class="ci">[${robust.ci!.lower.toFixed(2)}, ${robust.ci!.upper.toFixed(2)}]</span>`,
        );
      } else {
        expect(cell, id).to.equal('<span class="pending">not finished</span>');
      }
    }
    for (const f of figures) expect(fs.statSync(path.join(site, 'studies', 'mnist', f.file)).size).to.equal(fs.statSync(f.source).size);
    expect(fs.readFileSync(path.join(site, 'index.html'), 'utf8')).to.contain('<a href="study-mnist.html">');
  });

  it('refuses a broken study file before building, naming the file and the field', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-study-cli-'));
    const bad = path.join(tmp, 'study.json');
    const s = JSON.parse(fs.readFileSync(STUDY, 'utf8')) as { figures: unknown[]; checks: { relation?: string }[] };
    s.figures = [];
    s.checks[0].relation = '>>';
    fs.writeFileSync(bad, JSON.stringify(s));
    const site = path.join(tmp, 'site');
    const r = await runCliCaptured(['leaderboard', 'build', ENTRIES, '--out', site, '--study', bad]);
    expect(r.error?.message).to.contain(`${bad} is invalid`).and.contain('$.checks[0].relation: must be one of ">", ">="');
    expect(fs.existsSync(site)).to.equal(false);
  });
});
