/**
 * Atomic writes — the one home for them. A result is written under a temporary name next to its final
 * name, `<final>.tmp-<pid>-<host>-<random>` (`host`: 8 hex digits of the sha256 of the host name),
 * fsynced, and renamed over the final name; a kill at any point leaves the old final file (or none)
 * and, at worst, a temporary. Directories (training checkpoints, extracted archives) are staged the
 * same way and renamed into place.
 *
 * Every writer removes the stale temporaries of its own target before it writes (so a kill's leftovers
 * never survive the next successful write): a temporary is stale when its process is gone — the pid
 * it names is not running and it was made on this host — or when it has not been modified for
 * STALE_TEMP_MS (a temporary of another host, or of a pid that was reused). Temporaries of running
 * writers are left alone.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The marker between a final name and the rest of a temporary's name. */
export const TEMP_MARK = '.tmp-';
/** A temporary not modified for this long is stale whatever its pid and host (24 h). */
export const STALE_TEMP_MS = 24 * 3600 * 1000;

let hostTagCache: string | undefined;
/** 8 hex digits naming this host in temporary names (sha256 of os.hostname()). */
export function hostTag(): string {
  return (hostTagCache ??= createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8));
}

/** Whether a process with this pid runs on this host (EPERM: it runs under another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A fresh temporary name for `final` (same directory, so the rename is atomic). */
export function tempPathFor(final: string): string {
  return `${final}${TEMP_MARK}${process.pid}-${hostTag()}-${randomBytes(4).toString('hex')}`;
}

// `<final>.tmp-<pid>-<host>-<random>`; older versions wrote `<final>.tmp-<pid>-<ms timestamp>-<random>`
// (host unknown, taken as this host) and training checkpoints `<final>.tmp-<pid>`.
const TEMP_RE = /^(.+)\.tmp-(\d+)(?:-([0-9a-f]{8}|\d{13})-[0-9a-z]{1,8})?$/;

/** Parse a temporary's name: its final name, pid and host tag (null: written by an older version). */
export function parseTempName(name: string): { final: string; pid: number; host: string | null } | null {
  const m = TEMP_RE.exec(name);
  if (!m) return null;
  return { final: m[1], pid: Number(m[2]), host: m[3] && m[3].length === 8 ? m[3] : null };
}

function isStale(file: string, t: { pid: number; host: string | null }, now: number): boolean {
  let mtime: number;
  try {
    mtime = fs.lstatSync(file).mtimeMs;
  } catch {
    return false; // gone already
  }
  if (now - mtime > STALE_TEMP_MS) return true;
  if (t.host !== null && t.host !== hostTag()) return false;
  return t.pid !== process.pid && !pidAlive(t.pid);
}

/**
 * Remove the stale temporaries in `dir` (of every final name, or only of `finalName`). Returns the
 * removed names. A directory that does not exist has none.
 */
export function cleanStaleTemporariesIn(dir: string, finalName?: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const n of names) {
    if (!n.includes(TEMP_MARK)) continue;
    const t = parseTempName(n);
    if (!t || (finalName !== undefined && t.final !== finalName)) continue;
    const p = path.join(dir, n);
    if (!isStale(p, t, now)) continue;
    fs.rmSync(p, { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

/** Remove the stale temporaries of one final path (see cleanStaleTemporariesIn). */
export function cleanStaleTemporaries(final: string): string[] {
  const abs = path.resolve(final);
  return cleanStaleTemporariesIn(path.dirname(abs), path.basename(abs));
}

/** fsync a directory (makes a rename in it durable); a no-op where directories cannot be opened. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // not supported on every platform
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** fsync a file by name. */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Move a finished temporary over its final name (and make the rename durable); removes it on failure. */
function commit(tmp: string, file: string): void {
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fsyncDir(path.dirname(file));
}

/**
 * Write a file atomically: clean the target's stale temporaries, write a temporary next to it, fsync
 * it, rename it over the target. A crash leaves either the old file or the new one, never a
 * half-written one.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  cleanStaleTemporaries(file);
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fs.fsyncSync(fd);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  fs.closeSync(fd);
  commit(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}

/** Copy `src` to `dest` atomically (same contract as writeFileAtomic; the content is streamed by the OS). */
export function copyFileAtomic(src: string, dest: string): void {
  fs.mkdirSync(path.dirname(path.resolve(dest)), { recursive: true });
  cleanStaleTemporaries(dest);
  const tmp = tempPathFor(dest);
  try {
    fs.copyFileSync(src, tmp);
    fsyncFile(tmp);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  commit(tmp, dest);
}

/**
 * Start writing a directory atomically: clean the target's stale temporaries and create an empty
 * temporary directory next to it. Fill it, then commitDirectory(); on failure remove it (rmSync).
 */
export function stageDirectory(final: string): string {
  fs.mkdirSync(path.dirname(path.resolve(final)), { recursive: true });
  cleanStaleTemporaries(final);
  const tmp = tempPathFor(final);
  fs.mkdirSync(tmp);
  return tmp;
}

/**
 * Put a staged directory (or any directory on the same file system) in place of `final`. An existing
 * `final` is first renamed to a temporary of its own name and removed afterwards, so a kill leaves
 * the old or the new directory, or neither (never a mix), plus temporaries the next writer removes.
 */
export function commitDirectory(staged: string, final: string): void {
  if (fs.existsSync(final)) {
    const old = tempPathFor(final);
    fs.renameSync(final, old);
    fs.renameSync(staged, final);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.renameSync(staged, final);
  }
  fsyncDir(path.dirname(path.resolve(final)));
}

/**
 * Remove a directory so that a kill never leaves it half-deleted under its final name: it is renamed
 * to a temporary first (which the next writer of that name removes if this one is killed).
 */
export function discardDirectory(final: string): void {
  if (!fs.existsSync(final)) return;
  const old = tempPathFor(final);
  fs.renameSync(final, old);
  fs.rmSync(old, { recursive: true, force: true });
}
