/** Test utilities: where the shared real data is, temporary directories. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Repository root (tests run from packages/datasets/dist/test). */
export const REPO_ROOT = path.resolve(__dirname, '../../../..');

/** The shared real-data directory, or undefined when it is absent. */
export function sharedDataDir(): string | undefined {
  const dir = process.env.DBP_SHARED_DATA ?? path.resolve(REPO_ROOT, '../shared/data');
  return fs.existsSync(dir) ? dir : undefined;
}

/**
 * Path of `rel` under the shared data directory; when it is missing, print why and skip the test
 * (`ctx` is mocha's `this`).
 */
export function requireShared(ctx: Mocha.Context, rel: string): string {
  const base = sharedDataDir();
  const p = base ? path.join(base, rel) : undefined;
  if (!p || !fs.existsSync(p)) {
    console.log(`      (skipped: real data ${p ?? rel} not found; set DBP_SHARED_DATA to the shared data directory)`);
    ctx.skip();
  }
  return p!;
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(prefix = 'dbp-datasets-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Expect `p` to reject with ConfigValidationError-like message matching `re` (the plugin and field named). */
export async function expectRejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  let err: Error | undefined;
  try {
    await p;
  } catch (e) {
    err = e as Error;
  }
  if (!err) throw new Error(`expected a rejection matching ${re}`);
  if (!re.test(err.message)) throw new Error(`expected an error matching ${re}, got: ${err.message}`);
}
