/**
 * Run the CLI in-process with stdout and stderr captured (for tests and scripted use): the one helper
 * every CLI test uses instead of patching the streams itself.
 */
import { main } from './main';

export interface CliRun {
  /** The exit code `main` returned (undefined when it threw). */
  code?: number;
  stdout: string;
  stderr: string;
  /** What `main` threw, if anything (the streams are restored either way). */
  error?: Error;
}

/** `dbp-bench --log-level <logLevel> ...args`, in this process; nothing it prints reaches the terminal. */
export async function runCliCaptured(args: string[], logLevel = 'silent'): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  (process.stdout as { write: unknown }).write = (s: string | Uint8Array) => (out.push(String(s)), true);
  (process.stderr as { write: unknown }).write = (s: string | Uint8Array) => (err.push(String(s)), true);
  try {
    const code = await main(['node', 'dbp-bench', '--log-level', logLevel, ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } catch (e) {
    return { stdout: out.join(''), stderr: err.join(''), error: e as Error };
  } finally {
    (process.stdout as { write: unknown }).write = w1;
    (process.stderr as { write: unknown }).write = w2;
  }
}

export { writeSyntheticRunConfig } from './synthetic';
