/**
 * Small helpers the test suites of several packages share (and that plugin authors may use in their
 * own tests): numeric comparison, a temporary git repository, a registry with toy plugins, and
 * awaiting a rejection. Nothing here loads TensorFlow.js.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PluginRegistry, type PluginDefinition } from './registry';
import type { JsonSchema } from './schema';

/** max |a - b| / max |b| over all elements (`b` is the reference; 0 when both are all zero). */
export function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxRelativeError: lengths differ (${a.length} vs ${b.length})`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/** The error `p` rejects with; throws when it resolves instead. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

/** `git rev-parse HEAD` in `dir`. */
export function gitHead(dir: string): string {
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim();
}

/** A git repository with one commit (a README) in a new temporary directory: its path and HEAD. */
export function tempGitRepo(prefix = 'dbp-repo-'): { dir: string; head: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const git = (args: string[]): string =>
    execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  git(['init', '-q']);
  fs.writeFileSync(path.join(dir, 'README'), 'a user repository\n');
  git(['add', 'README']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'init']);
  return { dir, head: gitHead(dir) };
}

/**
 * A toy defense definition `id` whose options are `strength` (number in [0, 1], default 0.1) and
 * `steps` (integer, default 10) plus `extra` properties; create() returns `{ id, options }`.
 */
export function toyDefense(id: string, extra: Record<string, JsonSchema> = {}): PluginDefinition {
  return {
    kind: 'defense',
    id,
    description: `test defense ${id}`,
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { strength: { type: 'number', minimum: 0, maximum: 1, default: 0.1 }, steps: { type: 'integer', default: 10 }, ...extra },
    },
    create: (options: unknown) => ({ id, options }),
  };
}

/**
 * A registry with two toy packages: `pkg-a` registers defenses alpha and beta (toyDefense), `pkg-b` a
 * dataset `toy` (split train/test) and an attack `pgd` (eps > 0, default 0.03; steps >= 1, default 20).
 */
export function toyPluginRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({ name: 'pkg-a', register: (reg) => reg.add(toyDefense('alpha')).add(toyDefense('beta')) });
  r.use({
    name: 'pkg-b',
    register: (reg) =>
      reg
        .add({
          kind: 'dataset',
          id: 'toy',
          description: 'toy data',
          schema: { type: 'object', additionalProperties: false, properties: { split: { enum: ['train', 'test'], default: 'test' } } },
          create: () => ({}),
        })
        .add({
          kind: 'attack',
          id: 'pgd',
          description: 'pgd',
          schema: {
            type: 'object',
            additionalProperties: false,
            properties: {
              eps: { type: 'number', exclusiveMinimum: 0, default: 0.03 },
              steps: { type: 'integer', minimum: 1, default: 20 },
            },
          },
          create: () => ({}),
        }),
  });
  return r;
}
