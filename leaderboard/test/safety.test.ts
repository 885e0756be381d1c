import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError, SAFE_ID_PATTERN, sha256 } from '@dbp-bench/core';
import {
  buildSite,
  entryPath,
  entrySchema,
  esc,
  formatLeaderboardText,
  httpUrl,
  importRobustBench,
  importRobustBenchFile,
  loadEntries,
  plainText,
  safeUrl,
  urlFields,
  urlProblem,
  validateEntry,
  writeEntry,
  type LeaderboardEntry,
} from '../src';
import { BIDI, URL_PROBES, measuredEntry } from './helpers';

function tmp(prefix = 'dbp-safety-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every file under `dir` (recursively), with its content. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const p = path.join(d, name);
      if (fs.lstatSync(p).isDirectory()) walk(p);
      else out.set(path.relative(dir, p), fs.readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('leaderboard safety: URLs', () => {
  it('allows only absolute http(s) URLs, read the way a browser reads an href', () => {
    for (const u of URL_PROBES) {
      expect(urlProblem(u), JSON.stringify(u)).to.be.a('string');
      expect(httpUrl(u), JSON.stringify(u)).to.equal(null);
      expect(safeUrl(u), JSON.stringify(u)).to.equal(null);
    }
    expect(urlProblem('java\tscript:alert(1)')).to.match(/scheme 'javascript:'/);
    expect(urlProblem('/\\evil.example/x')).to.match(/not an absolute URL/);
    expect(urlProblem('https://user:pw@evil.example/')).to.match(/user name or password/);
    expect(urlProblem('htt\tps://evil.example/')).to.match(/control characters/);
    expect(urlProblem(42)).to.match(/must be a string/);
    for (const u of [
      'https://arxiv.org/abs/1706.06083',
      'http://example.org',
      'HTTPS://Robustbench.github.io/',
      'https://example.org/a?b=1&c=<d>#e',
    ]) {
      expect(urlProblem(u), u).to.equal(null);
      expect(httpUrl(u), u).to.equal(new URL(u).href);
    }
    // The href is the parsed form: markup in a path comes out percent-encoded.
    expect(safeUrl('https://example.org/"><script>')).to.equal('https://example.org/%22%3E%3Cscript%3E');
  });

  it('refuses every probe in every URL field of an entry, naming the field', () => {
    for (const field of ['paper', 'reported', 'measured', 'bestKnown'] as const) {
      for (const u of URL_PROBES) {
        const e = measuredEntry();
        if (field === 'paper') e.paper = { title: 'paper', url: u };
        else e.values[field] = { robust: 10, source: 'src', url: u };
        const where = field === 'paper' ? '$.paper.url' : `$.values.${field}.url`;
        let err: unknown;
        try {
          validateEntry(e, 'probe.json');
        } catch (x) {
          err = x;
        }
        expect(err, `${where} = ${JSON.stringify(u)}`).to.be.instanceOf(ConfigValidationError);
        expect((err as ConfigValidationError).problems.join('\n'), JSON.stringify(u)).to.include(where);
        expect(String(err)).to.include('probe.json');
      }
    }
    const ok = measuredEntry();
    ok.paper = { title: 'paper', url: 'https://arxiv.org/abs/1706.06083' };
    ok.values.reported = { robust: 10, source: 'paper', url: 'https://arxiv.org/abs/1706.06083' };
    expect(() => validateEntry(ok)).to.not.throw();
  });

  it('urlFields lists every URL field of the schema', () => {
    // Every place in the schema that refers to the httpUrl definition, and no other field named like a URL.
    const found: string[] = [];
    const defs = (entrySchema() as { definitions: Record<string, unknown> }).definitions;
    const walk = (node: unknown, at: string, seen: Set<unknown>): void => {
      if (!node || typeof node !== 'object' || seen.has(node)) return;
      const n = node as Record<string, unknown>;
      if (n.$ref === '#/definitions/httpUrl') found.push(at);
      else if (typeof n.$ref === 'string' && n.$ref.startsWith('#/definitions/'))
        walk(defs[n.$ref.slice(14)], at, new Set([...seen, node]));
      for (const [k, v] of Object.entries(n.properties ?? {})) {
        if (/url|link|href/i.test(k)) expect((v as { $ref?: string }).$ref, `${at}.${k}`).to.equal('#/definitions/httpUrl');
        walk(v, `${at}.${k}`, new Set([...seen, node]));
      }
      for (const key of ['items', 'additionalProperties'])
        if (n[key] && typeof n[key] === 'object') walk(n[key], `${at}[]`, new Set([...seen, node]));
      for (const key of ['oneOf', 'anyOf', 'allOf']) for (const b of (n[key] as unknown[]) ?? []) walk(b, at, new Set([...seen, node]));
    };
    walk(entrySchema(), '$', new Set());
    const e = measuredEntry();
    e.paper = { url: 'https://a.example/' };
    e.values = {
      reported: { source: 's', url: 'https://a.example/' },
      measured: { source: 's', url: 'https://a.example/' },
      bestKnown: { source: 's', url: 'https://a.example/' },
    };
    expect([...new Set(found)].sort()).to.deep.equal(
      urlFields(e)
        .map(([f]) => f)
        .sort(),
    );
  });

  it('skips a RobustBench model_info whose link is not an http(s) URL, naming the field', () => {
    const dir = path.join(tmp(), 'model_info', 'cifar10', 'Linf');
    fs.mkdirSync(dir, { recursive: true });
    const info = { link: 'https://arxiv.org/abs/1', name: 'Good', dataset: 'cifar10', eps: '8/255', clean_acc: '90', autoattack_acc: '50' };
    fs.writeFileSync(path.join(dir, 'Good.json'), JSON.stringify(info));
    fs.writeFileSync(path.join(dir, 'Bad.json'), JSON.stringify({ ...info, link: 'java\tscript:alert(1)' }));
    fs.writeFileSync(path.join(dir, 'Up.json'), JSON.stringify({ ...info, dataset: '..' }));
    expect(() => importRobustBenchFile(path.join(dir, 'Bad.json'))).to.throw(
      DataFormatError,
      /Bad\.json: field 'link': .*scheme 'javascript:'/,
    );
    expect(() => importRobustBenchFile(path.join(dir, 'Up.json'))).to.throw(DataFormatError, /Up\.json: field 'dataset'/);
    const res = importRobustBench(path.dirname(path.dirname(dir)));
    expect(res.entries.map((x) => x.entry.id)).to.deep.equal(['robustbench-Good']);
    expect(res.skipped.map((s) => path.basename(s.source)).sort()).to.deep.equal(['Bad.json', 'Up.json']);
  });
});

describe('leaderboard safety: ids that become path segments', () => {
  const BAD_IDS = ['..', '.', '.hidden', '-rf', '_x', 'a/b', 'a\\b', '', 'x'.repeat(129), 'a b', 'a\u202Eb', 'ä'];

  it('the entry schema and the run config use one pattern', () => {
    expect((entrySchema() as { definitions: { segment: { pattern: string } } }).definitions.segment.pattern).to.equal(SAFE_ID_PATTERN);
  });

  it('refuses unsafe entry, dataset and threat-model ids in the schema and in entryPath', () => {
    for (const bad of BAD_IDS) {
      for (const [field, set] of [
        ['$.id', (e: LeaderboardEntry) => (e.id = bad)],
        ['$.dataset.id', (e: LeaderboardEntry) => (e.dataset.id = bad)],
        ['$.threatModel.id', (e: LeaderboardEntry) => (e.threatModel.id = bad)],
      ] as const) {
        const e = measuredEntry();
        set(e);
        expect(() => validateEntry(e), `${field} = ${JSON.stringify(bad)}`).to.throw(ConfigValidationError, field);
        expect(() => entryPath('/entries', e), `${field} = ${JSON.stringify(bad)}`).to.throw(ConfigValidationError, field);
      }
    }
    const long = measuredEntry({ id: 'a'.repeat(128) });
    expect(() => validateEntry(long)).to.not.throw();
    expect(entryPath('/entries', measuredEntry({ id: 'robustbench-Carmon2019Unlabeled' }))).to.equal(
      path.join('/entries', 'cifar10', 'linf-8_255', 'robustbench-Carmon2019Unlabeled.json'),
    );
  });

  it('buildSite refuses an unvalidated entry whose id would leave the site, before writing anything', async () => {
    const out = tmp();
    for (const [field, set] of [
      ['$.threatModel.id', (e: LeaderboardEntry) => (e.threatModel.id = '..')],
      ['$.id', (e: LeaderboardEntry) => (e.id = '../../../escaped')],
      ['$.dataset.id', (e: LeaderboardEntry) => (e.dataset.id = '/tmp')],
    ] as const) {
      const e = measuredEntry();
      set(e);
      let err: unknown;
      try {
        await buildSite([{ entry: e, file: '/somewhere/probe.json' }], out);
      } catch (x) {
        err = x;
      }
      expect(err, field).to.be.instanceOf(DataFormatError);
      expect(String(err)).to.include('/somewhere/probe.json').and.include(field);
    }
    expect(fs.readdirSync(out)).to.deep.equal([]);
  });

  it('keeps page names under 255 bytes for the longest ids', async () => {
    const e = measuredEntry({ id: 'i'.repeat(128) });
    e.dataset.id = 'd'.repeat(128);
    e.threatModel.id = 't'.repeat(128);
    const res = await buildSite([{ entry: validateEntry(e) }], tmp());
    expect(path.basename(res.pages[0]).length).to.be.at.most(205);
    expect(path.basename(res.pages[0])).to.match(/^d{128}__t{53}-[0-9a-f]{16}\.html$/);
  });
});

describe('leaderboard safety: what the site publishes', () => {
  /** An entries tree with one valid entry whose results file is `rel` (written by `make`). */
  function entriesWith(rel: string, make: (entryDir: string) => void): { dir: string; file: string } {
    const dir = tmp('dbp-safety-entries-');
    const e: LeaderboardEntry = { ...measuredEntry({ id: 'probe' }), resultsFile: { path: rel, sha256: sha256('{}\n'), records: 1 } };
    const file = entryPath(dir, e);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(e, null, 2));
    make(path.dirname(file));
    return { dir, file };
  }

  /** A secret file outside every entries tree. */
  function secret(): string {
    const f = path.join(tmp('dbp-safety-outside-'), 'secret.jsonl');
    fs.writeFileSync(f, 'SECRET-CONTENT\n');
    return f;
  }

  async function refused(entries: Parameters<typeof buildSite>[0], file: string, why: RegExp): Promise<void> {
    const out = tmp('dbp-safety-site-');
    let err: unknown;
    try {
      await buildSite(entries, out);
    } catch (x) {
      err = x;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect((err as DataFormatError).file).to.equal(file);
    expect(String(err)).to.include('$.resultsFile.path').and.match(why);
    // Refused before anything was written.
    expect(fs.readdirSync(out)).to.deep.equal([]);
  }

  it('the schema refuses absolute and .. results paths (leaderboard validate, build, load)', () => {
    for (const bad of [
      '/etc/passwd',
      '../x.jsonl',
      'a/../../x.jsonl',
      './x.jsonl',
      'C:\\x.jsonl',
      'a\\..\\x.jsonl',
      '.hidden',
      'a//b',
      '',
    ]) {
      const e: LeaderboardEntry = { ...measuredEntry(), resultsFile: { path: bad, sha256: 'a'.repeat(64), records: 1 } };
      expect(() => validateEntry(e), JSON.stringify(bad)).to.throw(ConfigValidationError, '$.resultsFile.path');
    }
    for (const good of ['x.results.jsonl', 'results/x.jsonl', 'results.jsonl']) {
      expect(
        () => validateEntry({ ...measuredEntry(), resultsFile: { path: good, sha256: 'a'.repeat(64), records: 1 } }),
        good,
      ).to.not.throw();
    }
  });

  it('refuses (not warns) an absolute or traversing results path of an unvalidated entry', async () => {
    const { dir, file } = entriesWith('x.jsonl', () => undefined);
    const base = JSON.parse(fs.readFileSync(file, 'utf8')) as LeaderboardEntry;
    const depth = path.relative('/', path.dirname(file)).split(path.sep).length;
    for (const rel of ['/etc/passwd', `${'../'.repeat(depth)}etc/passwd`, '../../../x.jsonl', 'sub/../../../../x.jsonl']) {
      const entry = { ...base, resultsFile: { ...base.resultsFile!, path: rel } };
      await refused([{ entry, file, root: dir }], file, /not a relative path|leads outside/);
      // Also with no root given (the entry file's own directory is then the tree).
      await refused([{ entry, file }], file, /not a relative path|leads outside/);
    }
  });

  it('refuses a results file that leads out of the tree through a symbolic link (file or directory)', async () => {
    const outside = secret();
    const a = entriesWith('probe.results.jsonl', (d) => fs.symlinkSync(outside, path.join(d, 'probe.results.jsonl')));
    await refused(loadEntries(a.dir), a.file, /resolves to .*secret\.jsonl \(through a symbolic link\), outside the entries directory/);
    const b = entriesWith('sub/secret.jsonl', (d) => fs.symlinkSync(path.dirname(outside), path.join(d, 'sub')));
    await refused(loadEntries(b.dir), b.file, /through a symbolic link/);
    const c = entriesWith('passwd', (d) => fs.symlinkSync('/etc/passwd', path.join(d, 'passwd')));
    await refused(loadEntries(c.dir), c.file, /resolves to \/etc\/passwd/);
  });

  it('refuses a directory as results file and an entry file that is a link out of the tree', async () => {
    const a = entriesWith('sub', (d) => fs.mkdirSync(path.join(d, 'sub')));
    await refused(loadEntries(a.dir), a.file, /not a regular file/);
    // The entry file itself a symbolic link to an entry outside the tree.
    const dir = tmp('dbp-safety-entries-');
    const elsewhere = tmp('dbp-safety-outside-');
    const e = measuredEntry({ id: 'linked' });
    writeEntry(path.join(elsewhere, 'linked.json'), e);
    const link = entryPath(dir, e);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(elsewhere, 'linked.json'), link);
    const out = tmp('dbp-safety-site-');
    let err: unknown;
    try {
      await buildSite(loadEntries(dir), out);
    } catch (x) {
      err = x;
    }
    expect(err).to.be.instanceOf(DataFormatError);
    expect(String(err))
      .to.include(link)
      .and.match(/outside the entries directory/);
    expect(fs.readdirSync(out)).to.deep.equal([]);
  });

  it('publishes a results file inside the tree, also through a symbolic link that stays inside', async () => {
    const { dir } = entriesWith('probe.results.jsonl', (d) => {
      fs.mkdirSync(path.join(dir0(d), 'shared'), { recursive: true });
      fs.writeFileSync(path.join(dir0(d), 'shared', 'probe.jsonl'), '{}\n');
      fs.symlinkSync(path.join(dir0(d), 'shared', 'probe.jsonl'), path.join(d, 'probe.results.jsonl'));
    });
    const out = tmp('dbp-safety-site-');
    const res = await buildSite(loadEntries(dir), out);
    expect(res.warnings).to.deep.equal([]);
    expect(res.downloads.map((f) => path.basename(f))).to.deep.equal(['cifar10__linf-8_255__probe.results.jsonl']);
    expect(fs.readFileSync(res.downloads[0], 'utf8')).to.equal('{}\n');
    // The site holds only what it should: assets, pages, the entry and its results, `.nojekyll`. No temporary files.
    expect([...tree(out).keys()].sort()).to.deep.equal([
      '.nojekyll',
      'assets/site.css',
      'assets/site.js',
      'data/cifar10__linf-8_255__probe.json',
      'data/cifar10__linf-8_255__probe.results.jsonl',
      'entries/cifar10__linf-8_255__probe.html',
      'index.html',
    ]);
    for (const content of tree(out).values()) expect(content).to.not.include('SECRET-CONTENT');
  });
});

/** The entries root of an entry directory `<root>/<dataset>/<threat>`. */
function dir0(entryDir: string): string {
  return path.dirname(path.dirname(entryDir));
}

describe('leaderboard safety: bidi and control characters in displayed strings', () => {
  it('esc shows every bidi control as its code point; plainText also every control character', () => {
    for (const c of BIDI) {
      const hex = c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      expect(esc(`a${c}b`)).to.equal(`a[U+${hex}]b`);
      expect(plainText(`a${c}b`)).to.equal(`a[U+${hex}]b`);
    }
    expect(esc('<b>\u202Etxt.exe</b>')).to.equal('&lt;b&gt;[U+202E]txt.exe&lt;/b&gt;');
    expect(plainText('\u001b[31mred\u0007\u009b')).to.equal('[U+001B][31mred[U+0007][U+009B]');
    expect(plainText('ok – ä')).to.equal('ok – ä');
  });

  it('page titles, headings and the CLI table carry no bidi control', async () => {
    const e = measuredEntry({ id: 'bidi', name: 'Model \u202Egnp.exe \u2066x\u2069' });
    e.description = 'desc \u200F\u061C';
    e.threatModel.eps = { value: 8 / 255, display: '8/255\u202E' };
    const res = await buildSite([{ entry: validateEntry(e) }], tmp());
    const all = [fs.readFileSync(res.index, 'utf8'), fs.readFileSync(res.pages[0], 'utf8')].join('\n');
    for (const c of BIDI) expect(all.includes(c), `U+${c.charCodeAt(0).toString(16)}`).to.equal(false);
    expect(all).to.include('<title>Model [U+202E]gnp.exe [U+2066]x[U+2069] — cifar10 Linf, eps = 8/255[U+202E]</title>');
    const text = formatLeaderboardText([e]);
    for (const c of BIDI) expect(text.includes(c)).to.equal(false);
    expect(text).to.include('Model [U+202E]gnp.exe');
  });
});
