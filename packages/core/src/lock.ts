/**
 * One writer per output: a lock file created with O_EXCL, holding the holder's pid, host, start time
 * and command. A second process that wants the same lock is refused with a LockHeldError naming the
 * holder's pid and host.
 *
 * The holder refreshes the lock's modification time every LOCK_REFRESH_MS (30 s) from a worker
 * thread, so the lock stays fresh while the main thread is busy in a long synchronous computation
 * (one attack batch can take hours). A lock is stale, and is taken over, when
 *   - it was made on this host and its pid is not running (or is this process's pid, but this
 *     process does not hold it: a previous process that had the same pid, e.g. pid 1 in a container); or
 *   - it has not been refreshed for LOCK_STALE_MS (10 minutes): its holder is gone (on another host
 *     sharing the file system, whose pids cannot be checked), or its pid was reused on this host.
 * A lock whose content cannot be read (a holder killed while writing it) is stale after 10 s.
 * Taking over renames the stale lock away and checks that what was renamed is the lock judged stale
 * (its random token), so two processes recovering the same stale lock cannot both win.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DbpError } from './errors';
import { cleanStaleTemporaries, pidAlive, tempPathFor } from './atomic';

/** A lock not refreshed for this long is stale (10 minutes). */
export const LOCK_STALE_MS = 10 * 60 * 1000;
/** How often a holder refreshes its lock's modification time (30 s). */
export const LOCK_REFRESH_MS = 30 * 1000;
/** A lock file that cannot be parsed (its writer died mid-write) is stale after this long. */
const UNREADABLE_STALE_MS = 10 * 1000;

/** Tokens of the locks this process holds. */
const heldTokens = new Set<string>();

/** The content of a lock file. */
export interface LockInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  started: string;
  /** What holds it (e.g. the command line). */
  command: string;
  /** Random, tells two locks of the same pid apart. */
  token: string;
}

/** Another live process holds the lock. */
export class LockHeldError extends DbpError {
  readonly file: string;
  readonly holder: LockInfo;
  constructor(what: string, file: string, holder: LockInfo) {
    super(
      'E_LOCKED',
      `${what} is locked by pid ${holder.pid} on host ${holder.host} (since ${holder.started}: ${holder.command}); only one process may write it at a time. ` +
        `Wait for that process to finish. The lock of a process that is gone is taken over automatically (at once on its own host; ` +
        `from another host ${Math.round(LOCK_STALE_MS / 60000)} minutes after its last refresh), or delete ${file} by hand.`,
    );
    this.file = file;
    this.holder = holder;
  }
}

/** A held lock. */
export interface HeldLock {
  readonly file: string;
  readonly info: LockInfo;
  /** What was taken over from a crashed holder, if anything. */
  readonly recovered?: LockInfo | 'unreadable';
  /** Touch the lock (a long computation between timer ticks). */
  refresh(): void;
  /** Remove the lock if it is still ours; idempotent. */
  release(): void;
}

export interface LockOptions {
  /** What the lock protects, for messages ("run abc shard 0/1"). */
  what: string;
  /** The holder's command (default: the process's argv). */
  command?: string;
  /** Refresh interval (default LOCK_REFRESH_MS; tests). */
  refreshMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

function readLock(file: string): { info?: LockInfo; mtime: number } | undefined {
  let text: string;
  let mtime: number;
  try {
    mtime = fs.statSync(file).mtimeMs;
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as LockInfo;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.token === 'string') return { info: v, mtime };
  } catch {
    // fall through
  }
  return { mtime };
}

/** Whether a lock (its content, or undefined when unreadable, and mtime) is stale now. */
export function lockIsStale(info: LockInfo | undefined, mtime: number, now = Date.now()): boolean {
  if (!info) return now - mtime > UNREADABLE_STALE_MS;
  if (now - mtime > LOCK_STALE_MS) return true;
  if (info.host !== os.hostname()) return false;
  if (info.pid === process.pid) return !heldTokens.has(info.token);
  return !pidAlive(info.pid);
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Take the lock `file` or throw LockHeldError. Stale locks are taken over (see the module comment);
 * the returned handle refreshes the lock until released.
 */
export function acquireLock(file: string, options: LockOptions): HeldLock {
  const now = options.now ?? Date.now;
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  cleanStaleTemporaries(file);
  const info: LockInfo = {
    pid: process.pid,
    host: os.hostname(),
    started: new Date(now()).toISOString(),
    command: options.command ?? [path.basename(process.argv[1] ?? 'node'), ...process.argv.slice(2)].join(' '),
    token: randomBytes(8).toString('hex'),
  };
  let recovered: LockInfo | 'unreadable' | undefined;
  for (let attempt = 0; attempt < 20; attempt++) {
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (fd !== undefined) {
      try {
        fs.writeSync(fd, JSON.stringify(info, null, 2) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      return holdLock(file, info, recovered, options.refreshMs ?? LOCK_REFRESH_MS);
    }
    const cur = readLock(file);
    if (!cur) continue; // released meanwhile
    if (!lockIsStale(cur.info, cur.mtime, now())) {
      if (cur.info) throw new LockHeldError(options.what, file, cur.info);
      sleepMs(100); // being written right now
      continue;
    }
    // Take the stale lock over: move it away, and make sure what moved is the lock judged stale.
    const away = tempPathFor(file);
    try {
      fs.renameSync(file, away);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = readLock(away);
    if (moved && (cur.info ? moved.info?.token === cur.info.token : !moved.info)) {
      recovered = cur.info ?? 'unreadable';
      fs.rmSync(away, { force: true });
      continue;
    }
    // Another process took it over and locked it between our read and rename: put its lock back.
    try {
      fs.linkSync(away, file);
    } catch {
      // a third process holds it now; the loop reads who
    }
    fs.rmSync(away, { force: true });
  }
  const last = readLock(file);
  throw new LockHeldError(
    options.what,
    file,
    last?.info ?? { pid: -1, host: 'unknown', started: 'unknown', command: 'unknown (the lock cannot be read)', token: '' },
  );
}

// The refresher: a worker thread that touches the lock file on a timer, independent of the main thread.
const REFRESHER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
setInterval(() => {
  const t = new Date();
  try { fs.utimesSync(workerData.file, t, t); } catch {}
}, workerData.refreshMs);
`;

function holdLock(file: string, info: LockInfo, recovered: LockInfo | 'unreadable' | undefined, refreshMs: number): HeldLock {
  let held = true;
  heldTokens.add(info.token);
  const refresh = (): void => {
    if (!held) return;
    const t = new Date();
    try {
      fs.utimesSync(file, t, t);
    } catch {
      // removed by hand: keep running, release() will find nothing to remove
    }
  };
  const worker = new Worker(REFRESHER, { eval: true, workerData: { file: path.resolve(file), refreshMs } });
  worker.unref();
  const release = (): void => {
    if (!held) return;
    held = false;
    void worker.terminate();
    process.off('exit', release);
    heldTokens.delete(info.token);
    const cur = readLock(file);
    if (cur?.info?.token === info.token) fs.rmSync(file, { force: true });
  };
  // A process.exit() (or an uncaught error) between acquire and release still removes the lock.
  process.on('exit', release);
  return { file, info, ...(recovered ? { recovered } : {}), refresh, release };
}
