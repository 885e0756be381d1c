/**
 * Provenance of a run: dbp-bench's version and commit, backend, hardware.
 *
 * The commit is that of the installed dbp-bench, never of the working directory (a user running
 * dbp-bench from their own repository must not get their repository's commit): `DBP_GIT_COMMIT` when
 * set; else, when this package's files are tracked by a git checkout, that checkout's HEAD (`-dirty`
 * with uncommitted changes to tracked files); else the `commit` of a `build-info.json` next to this
 * package's package.json (written by `npm run build-info`); else `unknown`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FRAMEWORK_VERSION, activeBackend, nearestPackageJson } from '@dbp-bench/framework';

export interface Hardware {
  cpuModel: string;
  cpuCount: number;
  memoryBytes: number;
  platform: string;
  arch: string;
}

export function hardware(): Hardware {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() || 'unknown',
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
  };
}

/** Where a recorded commit came from. */
export type CommitSource = 'environment' | 'git' | 'build-info' | 'unknown';

export interface DbpBenchCommit {
  /** 40 hex digits (with `-dirty` when the checkout has local changes), or `unknown`. */
  commit: string;
  source: CommitSource;
}

/** The root of the installed @dbp-bench/runner package (the directory of its package.json). */
export const RUNNER_PACKAGE_DIR: string = nearestPackageJson(__filename)?.dir ?? path.resolve(__dirname, '..', '..', '..');

export const BUILD_INFO_FILE = 'build-info.json';

function git(args: string[], cwd: string): string {
  return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
    .toString()
    .trim();
}

/** HEAD of the git checkout that tracks `packageDir/package.json`, or null when none does. */
export function trackedCheckoutCommit(packageDir: string): string | null {
  try {
    const top = git(['rev-parse', '--show-toplevel'], packageDir);
    // Tracked by that checkout (not merely lying inside it, as an installed copy in node_modules does).
    git(['ls-files', '--error-unmatch', '--', path.join(packageDir, 'package.json')], top);
    const head = git(['rev-parse', 'HEAD'], top);
    if (!/^[0-9a-f]{40}$/.test(head)) return null;
    let dirty = false;
    try {
      dirty = git(['status', '--porcelain', '--untracked-files=no'], top) !== '';
    } catch {
      /* status unavailable: report the commit only */
    }
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

/** `commit` of `<packageDir>/build-info.json`, or null. */
export function buildInfoCommit(packageDir: string): string | null {
  const file = path.join(packageDir, BUILD_INFO_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    const c = (JSON.parse(fs.readFileSync(file, 'utf8')) as { commit?: unknown }).commit;
    return typeof c === 'string' && c.trim() ? c.trim() : null;
  } catch {
    return null;
  }
}

const commitCache = new Map<string, DbpBenchCommit>();

/** The commit of the installed dbp-bench (see the file comment), cached per process. */
export function dbpBenchCommit(packageDir: string = RUNNER_PACKAGE_DIR, env: NodeJS.ProcessEnv = process.env): DbpBenchCommit {
  if (env.DBP_GIT_COMMIT) return { commit: env.DBP_GIT_COMMIT, source: 'environment' };
  const cached = commitCache.get(packageDir);
  if (cached) return cached;
  const fromGit = trackedCheckoutCommit(packageDir);
  const fromInfo = fromGit ? null : buildInfoCommit(packageDir);
  const out: DbpBenchCommit = fromGit
    ? { commit: fromGit, source: 'git' }
    : fromInfo
      ? { commit: fromInfo, source: 'build-info' }
      : { commit: 'unknown', source: 'unknown' };
  commitCache.set(packageDir, out);
  return out;
}

export interface RunProvenance {
  frameworkVersion: string;
  /** dbp-bench's own commit (see dbpBenchCommit); `unknown` when it cannot be found. */
  gitCommit: string | null;
  commitSource?: CommitSource;
  backend: { name: string; version: string; package?: string; threads?: number } | null;
  hardware: Hardware;
}

export function runProvenance(): RunProvenance {
  const b = activeBackend();
  const c = dbpBenchCommit();
  return {
    frameworkVersion: FRAMEWORK_VERSION,
    gitCommit: c.commit,
    commitSource: c.source,
    backend: b ? { name: b.name, version: b.version, package: b.package, ...(b.threads ? { threads: b.threads } : {}) } : null,
    hardware: hardware(),
  };
}
