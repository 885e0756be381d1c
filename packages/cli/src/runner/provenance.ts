/** Provenance of a run: framework version, git commit, backend, hardware. */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { FRAMEWORK_VERSION, activeBackend } from '@dbp-bench/framework';

export interface Hardware {
  cpuModel: string;
  cpuCount: number;
  memoryBytes: number;
  platform: string;
  arch: string;
}

export function hardware(): Hardware {
  const cpus = os.cpus();
  return { cpuModel: cpus[0]?.model?.trim() || 'unknown', cpuCount: cpus.length, memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()}`, arch: os.arch() };
}

/** `DBP_GIT_COMMIT`, else `git rev-parse HEAD` in `cwd` (suffix `-dirty` with uncommitted changes), else null. */
export function gitCommit(cwd = process.cwd()): string | null {
  if (process.env.DBP_GIT_COMMIT) return process.env.DBP_GIT_COMMIT;
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim();
    if (!/^[0-9a-f]{40}$/.test(head)) return null;
    let dirty = false;
    try {
      dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() !== '';
    } catch {
      /* status unavailable: report the commit only */
    }
    return dirty ? `${head}-dirty` : head;
  } catch {
    return null;
  }
}

export interface RunProvenance {
  frameworkVersion: string;
  gitCommit: string | null;
  backend: { name: string; version: string; package?: string; threads?: number } | null;
  hardware: Hardware;
}

export function runProvenance(cwd?: string): RunProvenance {
  const b = activeBackend();
  return {
    frameworkVersion: FRAMEWORK_VERSION,
    gitCommit: gitCommit(cwd),
    backend: b ? { name: b.name, version: b.version, package: b.package, ...(b.threads ? { threads: b.threads } : {}) } : null,
    hardware: hardware(),
  };
}
