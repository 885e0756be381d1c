import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  LOCK_STALE_MS,
  LockHeldError,
  STALE_TEMP_MS,
  acquireLock,
  cleanStaleTemporaries,
  cleanStaleTemporariesIn,
  commitDirectory,
  copyFileAtomic,
  discardDirectory,
  hostTag,
  parseTempName,
  stageDirectory,
  tempPathFor,
  writeFileAtomic,
} from '../src';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-atomic-'));
}

/** The pid of a process that has exited (spawned and waited for). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', ''], { stdio: 'ignore' });
  return r.pid!;
}

function age(file: string, ms: number): void {
  const t = new Date(Date.now() - ms);
  fs.utimesSync(file, t, t);
}

describe('core: atomic writes clean their stale temporaries', () => {
  it('names temporaries <final>.tmp-<pid>-<host>-<random> and parses older names', () => {
    const t = path.basename(tempPathFor('/x/entry.json'));
    expect(t).to.match(new RegExp(`^entry\\.json\\.tmp-${process.pid}-${hostTag()}-[0-9a-f]{8}$`));
    expect(parseTempName(t)).to.deep.equal({ final: 'entry.json', pid: process.pid, host: hostTag() });
    expect(parseTempName('a.results.jsonl.tmp-123-1712345678901-ab12cd')).to.deep.equal({ final: 'a.results.jsonl', pid: 123, host: null });
    expect(parseTempName('step-00000009.tmp-77')).to.deep.equal({ final: 'step-00000009', pid: 77, host: null });
    expect(parseTempName('entry.json')).to.equal(null);
    expect(parseTempName('notes.tmp-draft')).to.equal(null);
  });

  it('removes temporaries of dead pids on this host and old ones of any host; keeps live and foreign fresh ones', () => {
    const dir = tmp();
    const dead = deadPid();
    const f = path.join(dir, 'out.bin');
    const names = {
      dead: `out.bin.tmp-${dead}-${hostTag()}-0000abcd`,
      legacyDead: `out.bin.tmp-${dead}-1712345678901-ab12cd`,
      live: `out.bin.tmp-${process.pid}-${hostTag()}-0000abce`,
      foreignFresh: `out.bin.tmp-${dead}-${hostTag() === 'ffffffff' ? 'eeeeeeee' : 'ffffffff'}-0000abcf`,
      foreignOld: `out.bin.tmp-${dead}-${hostTag() === 'ffffffff' ? 'eeeeeeee' : 'ffffffff'}-0000abd0`,
      otherTarget: `other.bin.tmp-${dead}-${hostTag()}-0000abd1`,
    };
    for (const n of Object.values(names)) fs.writeFileSync(path.join(dir, n), 'partial');
    age(path.join(dir, names.foreignOld), STALE_TEMP_MS + 60000);
    writeFileAtomic(f, 'final');
    expect(fs.readFileSync(f, 'utf8')).to.equal('final');
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['out.bin', names.live, names.foreignFresh, names.otherTarget].sort());
    expect(cleanStaleTemporariesIn(dir)).to.deep.equal([names.otherTarget]);
    expect(cleanStaleTemporaries(f)).to.deep.equal([]);
  });

  it('copyFileAtomic copies the bytes and leaves no temporary; a failed copy leaves none either', () => {
    const dir = tmp();
    const src = path.join(dir, 'src.jsonl');
    fs.writeFileSync(src, Buffer.alloc(300000, 7));
    copyFileAtomic(src, path.join(dir, 'sub', 'dest.jsonl'));
    expect(fs.readFileSync(path.join(dir, 'sub', 'dest.jsonl')).equals(fs.readFileSync(src))).to.equal(true);
    expect(() => copyFileAtomic(path.join(dir, 'missing'), path.join(dir, 'sub', 'x.jsonl'))).to.throw(/ENOENT/);
    expect(fs.readdirSync(path.join(dir, 'sub'))).to.deep.equal(['dest.jsonl']);
  });

  it('stages, commits and discards directories; a replaced directory is never a mix', () => {
    const dir = tmp();
    const final = path.join(dir, 'step-1');
    const a = stageDirectory(final);
    fs.writeFileSync(path.join(a, 'v'), 'one');
    commitDirectory(a, final);
    const b = stageDirectory(final);
    fs.writeFileSync(path.join(b, 'v'), 'two');
    commitDirectory(b, final);
    expect(fs.readdirSync(final)).to.deep.equal(['v']);
    expect(fs.readFileSync(path.join(final, 'v'), 'utf8')).to.equal('two');
    // a staged directory of a killed process is removed by the next stage of that name
    const dead = path.join(dir, `step-1.tmp-${deadPid()}-${hostTag()}-0badc0de`);
    fs.mkdirSync(dead);
    stageDirectory(final);
    expect(fs.existsSync(dead)).to.equal(false);
    discardDirectory(final);
    expect(fs.readdirSync(dir).filter((n) => !n.includes(`.tmp-${process.pid}-`))).to.deep.equal([]);
  });
});

describe('core: locks (one writer)', () => {
  it('refuses a second holder, naming pid and host; release frees it', () => {
    const file = path.join(tmp(), 'lock.json');
    const a = acquireLock(file, { what: 'run x' });
    let err: unknown;
    try {
      acquireLock(file, { what: 'run x' });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(LockHeldError);
    expect(String(err)).to.contain(`run x is locked by pid ${process.pid} on host ${os.hostname()}`);
    expect(String(err)).to.contain(file);
    a.release();
    a.release();
    expect(fs.existsSync(file)).to.equal(false);
    acquireLock(file, { what: 'run x' }).release();
  });

  it('takes over the lock of a dead pid on this host, of a previous process with this pid, and an old lock of another host', () => {
    const file = path.join(tmp(), 'lock.json');
    const write = (info: object): void =>
      fs.writeFileSync(
        file,
        JSON.stringify({ started: '2020-01-01T00:00:00.000Z', command: 'dbp-bench run c.json', token: 'feed', ...info }),
      );
    const dead = deadPid();
    write({ pid: dead, host: os.hostname() });
    const a = acquireLock(file, { what: 'w' });
    expect(a.recovered).to.deep.include({ pid: dead, host: os.hostname() });
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).to.equal(process.pid);
    a.release();
    // pid 1 in a restarted container: this pid, but not a lock this process holds
    write({ pid: process.pid, host: os.hostname() });
    const b = acquireLock(file, { what: 'w' });
    expect(b.recovered).to.deep.include({ pid: process.pid, token: 'feed' });
    b.release();
    // another host: its pid cannot be checked; fresh -> refused, not refreshed for LOCK_STALE_MS -> taken over
    write({ pid: 4242, host: 'other-node-17' });
    expect(() => acquireLock(file, { what: 'w' })).to.throw(LockHeldError, /pid 4242 on host other-node-17/);
    age(file, LOCK_STALE_MS + 1000);
    const c = acquireLock(file, { what: 'w' });
    expect(c.recovered).to.deep.include({ host: 'other-node-17' });
    c.release();
    // an unreadable lock (its writer died mid-write) is stale after a few seconds
    fs.writeFileSync(file, '{"pid": 12');
    age(file, 60000);
    const d = acquireLock(file, { what: 'w' });
    expect(d.recovered).to.equal('unreadable');
    d.release();
    expect(fs.readdirSync(path.dirname(file))).to.deep.equal([]);
  });

  it('the holder refreshes its lock from a worker thread while the main thread is blocked', async () => {
    const file = path.join(tmp(), 'lock.json');
    const lock = acquireLock(file, { what: 'w', refreshMs: 50 });
    try {
      await new Promise((r) => setTimeout(r, 150)); // let the worker start
      age(file, 3600 * 1000);
      const t0 = Date.now();
      while (Date.now() - t0 < 400) {
        // a long synchronous computation
      }
      expect(Date.now() - fs.statSync(file).mtimeMs).to.be.below(1000);
    } finally {
      lock.release();
    }
  });
});
