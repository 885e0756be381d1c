/**
 * Every writer survives SIGKILL at a random moment: a child process runs the writer (the built CLI, or
 * the download function in a node script) and is killed after a random delay; then no final-named file
 * may be partial (each is parsed and validated), and after one more, uninterrupted run the outputs are
 * complete and consistent and no temporary (`*.tmp-*`, `.part`, lock file) survives.
 *
 * Writers: run finalisation (journal, results.jsonl, entry.json and its copy in the entries
 * directory), `leaderboard build` (results copies), `weights convert`, `train` checkpoints and
 * `data download` (from a loopback HTTP mirror that sends slowly). Two kills per writer in the default
 * suite; RUN_SLOW=1 adds a test per writer with ten (and a 45 MB weights file for `weights convert`).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Journal, parseTempName, sha256 } from '@dbp-bench/framework';
import { createClassifier, readSafetensors, saveModel } from '@dbp-bench/models';
import { readEntry, validateEntry, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { hashFile, type DownloadSpec } from '@dbp-bench/datasets';
import { runCliCaptured, writeSyntheticRunConfig } from '@dbp-bench/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'packages', 'cli', 'bin', 'dbp-bench.js');
const SLOW = process.env.RUN_SLOW === '1';
// tar is a dependency of @dbp-bench/datasets (which extracts tar.gz archives), not of the root package.
const tar = require(require.resolve('tar', { paths: [path.dirname(require.resolve('@dbp-bench/datasets/package.json'))] })) as {
  c(options: { gzip: boolean; file: string; cwd: string }, files: string[]): Promise<void>;
};

function tmp(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `dbp-kill-${tag}-`));
}

interface Outcome {
  killed: boolean;
  code: number | null;
  stderr: string;
}

/** Run `node args` in `cwd`; SIGKILL it after `killAfterMs` (when given and it still runs). */
function runChild(args: string[], cwd: string, killAfterMs?: number): Promise<Outcome> {
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', code, stderr });
    }),
  );
}

/** Every path under `dir` (relative), depth first. */
function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

/** Leftovers that must not survive a successful run: temporaries of atomic writes, partial downloads, locks. */
function leftovers(dir: string): string[] {
  return listAll(dir).filter((r) => {
    const n = path.basename(r);
    return parseTempName(n) !== null || n.endsWith('.part') || n.startsWith('.extract-') || /^lock(\.shard-\d+-of-\d+)?\.json$/.test(n);
  });
}

/** Complete journal lines parse (a torn last line is allowed: the journal is append-only). */
function checkJournal(file: string): void {
  if (fs.existsSync(file)) Journal.read(file);
}

interface Writer {
  name: string;
  /** Upper end of the random kill delay (ms after spawn; about an uninterrupted run's duration); the lower end is 30% of it. */
  windowMs: number;
  /** Working directory of the children, and what they run (the first run and after kills alike). */
  cwd: string;
  args: string[];
  /** Every final-named output that exists is complete (throws otherwise). */
  checkFinal(): void;
  /** After an uninterrupted run: everything is there and consistent. */
  checkDone(): void;
  /** Directories that must hold no leftovers after an uninterrupted run. */
  outputs: string[];
}

async function killAndRecover(w: Writer, kills: number): Promise<void> {
  const log: string[] = [];
  for (let k = 0; k < kills; k++) {
    const delay = Math.round(w.windowMs * (0.3 + 0.7 * Math.random()));
    const r = await runChild(w.args, w.cwd, delay);
    log.push(`kill ${k + 1} after ${delay} ms: ${r.killed ? 'killed' : `exited ${r.code}`}`);
    if (!r.killed) expect(r.code, `${w.name}: ${log.join('; ')}\n${r.stderr}`).to.equal(0);
    try {
      w.checkFinal();
    } catch (e) {
      throw new Error(`${w.name}: a final-named file is partial after ${log.join('; ')}: ${(e as Error).message}`);
    }
  }
  const done = await runChild(w.args, w.cwd);
  expect(done.code, `${w.name}: the run after ${log.join('; ')} failed:\n${done.stderr}`).to.equal(0);
  w.checkFinal();
  w.checkDone();
  for (const o of w.outputs) expect(leftovers(o), `${w.name}: leftovers in ${o} after ${log.join('; ')}`).to.deep.equal([]);
}

// ---------------------------------------------------------------------------------------------------
// Writers

/** An entry file and its results file agree (sha256), both complete. */
function checkEntryWithResults(file: string): LeaderboardEntry {
  const e = readEntry(file);
  const results = path.join(path.dirname(file), e.resultsFile!.path);
  expect(fs.existsSync(results), `${results} (named by ${file})`).to.equal(true);
  const text = fs.readFileSync(results, 'utf8');
  expect(sha256(text), `${results}: sha256 against ${file}`).to.equal(e.resultsFile!.sha256);
  expect(text.split('\n').filter(Boolean)).to.have.length(e.resultsFile!.records);
  return e;
}

function runWriter(): Writer {
  const dir = tmp('run');
  const cfg = writeSyntheticRunConfig(dir, 4, 'kill-run');
  const runs = path.join(dir, 'runs');
  const entries = path.join(dir, 'entries');
  const copyFile = path.join(entries, 'synthetic', 'linf-0.1', 'kill-run.json');
  const runDir = (): string | undefined => (fs.existsSync(runs) ? fs.readdirSync(runs).map((h) => path.join(runs, h))[0] : undefined);
  return {
    name: 'run (journal and finalisation)',
    windowMs: 2500,
    cwd: dir,
    args: [CLI, '--log-level', 'error', 'run', cfg, '--out', runs, '--entries', entries],
    outputs: [runs, entries],
    checkFinal() {
      const rd = runDir();
      if (!rd) return;
      for (const f of ['run.json', 'meta.json']) if (fs.existsSync(path.join(rd, f))) JSON.parse(fs.readFileSync(path.join(rd, f), 'utf8'));
      checkJournal(path.join(rd, 'journal.jsonl'));
      if (fs.existsSync(path.join(rd, 'results.jsonl')))
        for (const l of fs.readFileSync(path.join(rd, 'results.jsonl'), 'utf8').split('\n').filter(Boolean)) JSON.parse(l);
      if (fs.existsSync(copyFile)) checkEntryWithResults(copyFile);
      // entry.json of the run directory is written last: when it exists, its copy is complete and agrees
      if (fs.existsSync(path.join(rd, 'entry.json'))) {
        const e = checkEntryWithResults(path.join(rd, 'entry.json'));
        expect(fs.existsSync(copyFile), `${copyFile}: the copy of an existing entry.json`).to.equal(true);
        const c = readEntry(copyFile);
        expect(c.results).to.deep.equal(e.results);
        expect(c.resultsFile!.sha256).to.equal(e.resultsFile!.sha256);
      }
    },
    checkDone() {
      const rd = runDir()!;
      const e = readEntry(path.join(rd, 'entry.json'));
      expect(e.dataset.n).to.equal(4);
      expect(readEntry(copyFile)).to.deep.equal({ ...e, resultsFile: { ...e.resultsFile!, path: 'kill-run.results.jsonl' } });
    },
  };
}

async function leaderboardWriter(): Promise<Writer> {
  const dir = tmp('site');
  const cfg = writeSyntheticRunConfig(dir, 2, 'kill-run');
  const r = await runCliCaptured(['run', cfg, '--out', path.join(dir, 'runs'), '--entries', path.join(dir, 'base')]);
  expect(r.error?.message ?? '').to.equal('');
  const baseFile = path.join(dir, 'base', 'synthetic', 'linf-0.1', 'kill-run.json');
  const base = readEntry(baseFile);
  const lines = fs
    .readFileSync(path.join(path.dirname(baseFile), base.resultsFile!.path), 'utf8')
    .split('\n')
    .filter(Boolean);
  // Six entries with results files of 0.5 to 1.5 MB (the copies a kill used to truncate).
  const entries = path.join(dir, 'entries');
  const shas = new Set<string>();
  for (let i = 0; i < 6; i++) {
    const d = path.join(entries, 'synthetic', 'linf-0.1');
    fs.mkdirSync(d, { recursive: true });
    // The records stay the run's (records <= dataset.n, which validateEntry checks); each line is padded
    // with JSON whitespace to make the file large.
    const pad = Math.ceil(((i + 1) * 250000) / lines.length);
    const text = lines.map((l) => l + ' '.repeat(pad) + '\n').join('');
    fs.writeFileSync(path.join(d, `e${i}.results.jsonl`), text);
    shas.add(sha256(text));
    const e = validateEntry({
      ...base,
      id: `e${i}`,
      name: `entry ${i}`,
      resultsFile: { path: `e${i}.results.jsonl`, sha256: sha256(text), records: lines.length },
    });
    fs.writeFileSync(path.join(d, `e${i}.json`), JSON.stringify(e, null, 2));
  }
  const site = path.join(dir, 'site');
  return {
    name: 'leaderboard build',
    windowMs: 1500,
    cwd: dir,
    args: [CLI, '--log-level', 'error', 'leaderboard', 'build', entries, '--out', site],
    outputs: [site],
    checkFinal() {
      for (const rel of listAll(site)) {
        const f = path.join(site, rel);
        if (parseTempName(path.basename(f)) || fs.statSync(f).isDirectory()) continue;
        if (f.endsWith('.results.jsonl')) expect(shas.has(sha256(fs.readFileSync(f))), `${f} is a complete results file`).to.equal(true);
        else if (f.endsWith('.json')) validateEntry(JSON.parse(fs.readFileSync(f, 'utf8')), f);
        else if (f.endsWith('.html')) expect(fs.readFileSync(f, 'utf8').trimEnd(), f).to.match(/<\/html>$/);
        else if (path.basename(f) === '.nojekyll')
          expect(fs.statSync(f).size, f).to.equal(0); // empty by design
        else expect(fs.statSync(f).size, f).to.be.greaterThan(0);
      }
    },
    checkDone() {
      expect(listAll(path.join(site, 'data')).filter((n) => n.endsWith('.results.jsonl'))).to.have.length(6);
      expect(fs.existsSync(path.join(site, 'index.html'))).to.equal(true);
    },
  };
}

function convertWriter(big: boolean): Writer {
  const dir = tmp('convert');
  const arch = big ? 'preact-resnet18' : 'resnet20';
  const model = createClassifier(arch, { numClasses: 10, inputShape: [32, 32, 3], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }, 1);
  saveModel(path.join(dir, 'in.safetensors'), model);
  model.dispose();
  const tensors = readSafetensors(path.join(dir, 'in.safetensors')).tensors.size;
  const out = path.join(dir, 'out.safetensors');
  return {
    name: `weights convert (${arch})`,
    windowMs: big ? 5000 : 1500,
    cwd: dir,
    args: [
      CLI,
      '--log-level',
      'error',
      'weights',
      'convert',
      'in.safetensors',
      'out.safetensors',
      '--arch',
      arch,
      '--mean',
      '0.5,0.5,0.5',
      '--std',
      '0.25,0.25,0.25',
    ],
    outputs: [dir],
    checkFinal() {
      if (fs.existsSync(out)) expect(readSafetensors(out).tensors.size).to.equal(tensors);
    },
    checkDone() {
      expect(fs.existsSync(out)).to.equal(true);
    },
  };
}

function trainWriter(): Writer {
  const dir = tmp('train');
  const steps = 8;
  fs.writeFileSync(
    path.join(dir, 'train.json'),
    JSON.stringify({
      trainer: 'standard',
      options: {
        dataset: { id: 'synthetic', options: { size: 64, numClasses: 4, imageSize: 16, channels: 1, seed: 2 } },
        model: { arch: 'small-cnn', config: { channels: [4, 8], hidden: 16 } },
        steps,
        batchSize: 8,
        optimizer: { type: 'adam', lr: 0.001 },
        checkpointEvery: 1,
        keepCheckpoints: 2,
        logEvery: 1,
        seed: 0,
      },
    }),
  );
  const out = path.join(dir, 'out');
  const ck = path.join(out, 'checkpoints');
  return {
    name: 'train (checkpoints)',
    windowMs: 2500,
    cwd: dir,
    args: [CLI, '--log-level', 'error', 'train', 'train.json', '--out', out, '--resume'],
    outputs: [out],
    checkFinal() {
      if (!fs.existsSync(out)) return;
      if (fs.existsSync(path.join(out, 'checkpoint.json'))) JSON.parse(fs.readFileSync(path.join(out, 'checkpoint.json'), 'utf8'));
      for (const d of fs.existsSync(ck) ? fs.readdirSync(ck).filter((n) => /^step-\d+$/.test(n)) : []) {
        const st = JSON.parse(fs.readFileSync(path.join(ck, d, 'state.json'), 'utf8')) as { step: number };
        expect(st.step, d).to.equal(Number(d.slice(5)));
        for (const f of ['model.safetensors', 'optimizer.safetensors'])
          expect(readSafetensors(path.join(ck, d, f)).tensors.size, `${d}/${f}`).to.be.greaterThan(0);
      }
      checkJournal(path.join(out, 'loss.jsonl'));
      if (fs.existsSync(path.join(out, 'loss.svg')))
        expect(fs.readFileSync(path.join(out, 'loss.svg'), 'utf8').trimEnd()).to.match(/<\/svg>$/);
      if (fs.existsSync(path.join(out, 'model.safetensors')))
        expect(readSafetensors(path.join(out, 'model.safetensors')).tensors.size).to.be.greaterThan(0);
      if (fs.existsSync(path.join(out, 'result.json'))) JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8'));
    },
    checkDone() {
      const res = JSON.parse(fs.readFileSync(path.join(out, 'result.json'), 'utf8')) as { steps: number };
      expect(res.steps).to.equal(steps);
      const log = Journal.read<{ kind: string; step: number }>(path.join(out, 'loss.jsonl')).filter((r) => r.kind === 'train');
      expect(log.map((r) => r.step)).to.deep.equal(Array.from({ length: steps }, (_, i) => i + 1));
    },
  };
}

/** A loopback mirror that sends files in 32 KB pieces every 4 ms (and honours Range). */
async function slowMirror(files: Record<string, Buffer>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const body = files[decodeURIComponent((req.url ?? '/').slice(1))];
    if (!body) return void res.writeHead(404).end();
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, {
      'content-length': body.length - start,
      ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    let pos = start;
    const send = (): void => {
      if (res.destroyed) return;
      if (pos >= body.length) return void res.end();
      res.write(body.subarray(pos, pos + 32768));
      pos += 32768;
      setTimeout(send, 4);
    };
    send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

async function downloadWriter(mirror: (files: Record<string, Buffer>) => Promise<string>): Promise<Writer> {
  const dir = tmp('download');
  const src = path.join(dir, 'src', 'kill-data');
  fs.mkdirSync(src, { recursive: true });
  const contents: Record<string, Buffer> = {
    'a.bin': Buffer.from(Array.from({ length: 1500000 }, (_, i) => (i * 2654435761) >>> 24)),
    'b.txt': Buffer.from('labels\n'.repeat(1000)),
  };
  for (const [n, b] of Object.entries(contents)) fs.writeFileSync(path.join(src, n), b);
  const tgz = path.join(dir, 'kill-data.tar.gz');
  await tar.c({ gzip: true, file: tgz, cwd: path.join(dir, 'src') }, ['kill-data']);
  const h = await hashFile(tgz);
  const bytes = fs.readFileSync(tgz);
  const url = await mirror({ 'kill-data.tar.gz': bytes });
  const spec: DownloadSpec = {
    name: 'kill-data',
    description: 'test archive',
    files: [{ name: 'kill-data.tar.gz', urls: [`${url}/kill-data.tar.gz`], size: bytes.length, sha256: h.sha256 }],
    archive: { file: 'kill-data.tar.gz', format: 'tar.gz', topDir: 'kill-data', expect: ['a.bin', 'b.txt'] },
    checksumSource: 'computed by the test',
  };
  const data = path.join(dir, 'data');
  const script = path.join(dir, 'download.js');
  fs.writeFileSync(
    script,
    `const { downloadDataset } = require(${JSON.stringify(require.resolve('@dbp-bench/datasets'))});\n` +
      `downloadDataset(JSON.parse(process.argv[2]), { dir: process.argv[3], retries: 0 }).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); });\n`,
  );
  return {
    name: 'data download',
    windowMs: 1500,
    cwd: dir,
    args: [script, JSON.stringify(spec), data],
    outputs: [data],
    checkFinal() {
      const archive = path.join(data, 'kill-data.tar.gz');
      if (fs.existsSync(archive)) expect(sha256(fs.readFileSync(archive))).to.equal(h.sha256);
      const top = path.join(data, 'kill-data');
      if (fs.existsSync(top))
        for (const [n, b] of Object.entries(contents))
          expect(fs.readFileSync(path.join(top, n)).equals(b), `kill-data/${n}`).to.equal(true);
      const manifest = path.join(data, 'kill-data.download.json');
      if (fs.existsSync(manifest)) expect(JSON.parse(fs.readFileSync(manifest, 'utf8')).files[0].sha256).to.equal(h.sha256);
    },
    checkDone() {
      expect(fs.existsSync(path.join(data, 'kill-data.download.json'))).to.equal(true);
    },
  };
}

describe('killed writers leave no partial file and no temporary after the next run', function () {
  this.timeout(600000);
  const servers: { close(): Promise<void> }[] = [];
  const mirror = async (files: Record<string, Buffer>): Promise<string> => {
    const s = await slowMirror(files);
    servers.push(s);
    return s.url;
  };
  after(async () => {
    for (const s of servers) await s.close();
  });

  for (const [title, kills, big] of [
    ['2 random kills', 2, false],
    ['10 random kills @slow', 10, SLOW],
  ] as const) {
    describe(title, () => {
      it('run finalisation', async () => killAndRecover(runWriter(), kills));
      it('leaderboard build', async () => killAndRecover(await leaderboardWriter(), kills));
      it('weights convert', async () => killAndRecover(convertWriter(big), kills));
      it('train checkpoints', async () => killAndRecover(trainWriter(), kills));
      it('data download', async () => killAndRecover(await downloadWriter(mirror), kills));
    });
  }
});
