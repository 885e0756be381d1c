/**
 * Run the CLI in-process with stdout and stderr captured (for tests and scripted use): the one helper
 * every CLI test uses instead of patching the streams itself.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createClassifier, saveModel } from '@dbp-bench/models';
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

/**
 * Write a tiny synthetic benchmark into `dir` for CLI tests: an untrained small-cnn (`cnn.safetensors`),
 * the identity defense and a 2-step PGD on the first `n` images of the synthetic dataset, as
 * `run.json` with run name `name`. `over` replaces the defense id, the batch size or the leaderboard
 * model name. Returns the config's path.
 */
export function writeSyntheticRunConfig(dir: string, n: number, name: string, over: { defense?: string; batchSize?: number; model?: string } = {}): string {
  const model = createClassifier('small-cnn', { numClasses: 4, inputShape: [16, 16, 1], mean: [0.5], std: [0.5], channels: [4, 8], hidden: 16, dropout: 0 }, 1);
  saveModel(path.join(dir, 'cnn.safetensors'), model);
  model.dispose();
  const config = {
    name,
    seed: 1,
    dataset: { id: 'synthetic', options: { size: 16, numClasses: 4, imageSize: 16, channels: 1, seed: 2 }, subset: { kind: 'first', n } },
    classifier: { weights: 'cnn.safetensors' },
    defense: { id: over.defense ?? 'identity' },
    attacks: [{ id: 'pgd', name: 'pgd-2', options: { steps: 2, eot: { samples: 1 }, eps: 0.1, stepSize: 0.05 } }],
    evaluation: { purifications: 1, batchSize: over.batchSize ?? 2 },
    leaderboard: { model: over.model ?? 'small-cnn (untrained)', family: 'none', reducedProtocol: true },
  };
  const file = path.join(dir, 'run.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}
