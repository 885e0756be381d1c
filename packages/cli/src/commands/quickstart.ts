import * as fs from 'node:fs';
import * as path from 'node:path';
import { MissingFileError, formatDuration, readJsonFile, type Logger, type PluginRegistry } from '@dbp-bench/framework';
import { buildSite, formatLeaderboardText, loadEntries, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { runBenchmark, type RunnerDeps } from '@dbp-bench/runner';
import type { AddCommand } from './types';
import { withStopSignals } from '../signals';

/** The repository's `configs/quickstart` (from packages/cli/dist/src/commands). */
export const DEFAULT_QUICKSTART_CONFIGS = path.resolve(__dirname, '../../../../../configs/quickstart');

export interface QuickstartOptions {
  registry: PluginRegistry;
  /** Directory of run configs, run in file-name order. */
  configsDir?: string;
  /** Output root: runs/, entries/, site/. */
  outDir: string;
  logger: Logger;
  deps?: RunnerDeps;
  /** Polled after every batch: true stops the quickstart there (the finished runs and batches are kept). */
  shouldStop?: () => boolean;
}

export interface QuickstartResult {
  entries: LeaderboardEntry[];
  table: string;
  site: string;
  entriesDir: string;
  /** A stop request ended it in this config (the finished runs are kept). */
  interrupted?: { config: string; done: number; total: number };
}

/** The quickstart's config files: every `*.json` in the directory, sorted by name. */
export function quickstartConfigs(dir: string): string[] {
  if (!fs.existsSync(dir)) throw new MissingFileError(dir, 'expected a directory of quickstart run configs (configs/quickstart)');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
  if (!files.length) throw new MissingFileError(path.join(dir, '*.json'), 'the quickstart configs directory has no run configs');
  return files;
}

/**
 * Run every quickstart config sequentially (each resumes if interrupted), write the entries into
 * `<out>/entries`, build `<out>/site`, and return the text table.
 */
export async function runQuickstart(o: QuickstartOptions): Promise<QuickstartResult> {
  const configs = quickstartConfigs(o.configsDir ?? DEFAULT_QUICKSTART_CONFIGS);
  const entriesDir = path.join(o.outDir, 'entries');
  // Check the weights first, so a missing file fails before any compute.
  for (const file of configs) {
    const raw = readJsonFile(file) as { classifier?: { weights?: unknown }; defense?: { options?: { weights?: unknown } } };
    for (const w of [raw.classifier?.weights, raw.defense?.options?.weights]) {
      if (typeof w !== 'string') continue;
      const p = path.resolve(path.dirname(file), w);
      if (!fs.existsSync(p))
        throw new MissingFileError(
          p,
          `needed by ${file}; the quickstart uses the demo weights in weights/ (see weights/README.md for how they are produced)`,
        );
    }
  }
  const entries: LeaderboardEntry[] = [];
  for (const [i, file] of configs.entries()) {
    const t0 = Date.now();
    o.logger.info(`[${i + 1}/${configs.length}] ${path.basename(file)}`);
    const r = await runBenchmark({
      registry: o.registry,
      config: file,
      outDir: path.join(o.outDir, 'runs'),
      entriesDir,
      logger: o.logger,
      deps: o.deps,
      shouldStop: o.shouldStop,
    });
    if (r.interrupted)
      return { entries, table: '', site: '', entriesDir, interrupted: { config: file, done: r.samples.done, total: r.samples.total } };
    if (!r.entry) throw new Error(`quickstart: run of ${file} did not complete`);
    entries.push(r.entry);
    o.logger.info(
      `    clean ${r.entry.results.clean?.value ?? '-'}%, robust ${r.entry.results.robust?.value ?? '-'}% (${formatDuration((Date.now() - t0) / 1000)})`,
    );
  }
  const siteDir = path.join(o.outDir, 'site');
  const site = await buildSite(loadEntries(entriesDir), siteDir, { title: 'dbp-bench quickstart (reduced protocol)', logger: o.logger });
  return { entries, table: formatLeaderboardText(entries), site: site.index, entriesDir };
}

/** `dbp-bench quickstart`: the data-driven list of configs/quickstart/*.json on MNIST with the demo weights. */
export const addQuickstartCommand: AddCommand = (program, context, result) => {
  program
    .command('quickstart')
    .description(
      'benchmark the demo defenses on MNIST with a reduced protocol (configs/quickstart/*.json), write entries and the site, print the table',
    )
    .option('--out <dir>', 'output directory (runs/, entries/, site/)', 'dbp-bench-quickstart')
    .option('--configs <dir>', 'directory of run configs to run in name order', DEFAULT_QUICKSTART_CONFIGS)
    .action(async (opts: { out: string; configs: string }) => {
      const ctx = context();
      await ctx.backend();
      const t0 = Date.now();
      const resume = `dbp-bench quickstart --out ${opts.out}`;
      const r = await withStopSignals(
        ctx.logger,
        {
          unit: 'batch',
          abandon: () => `The finished runs and batches are kept in ${path.resolve(opts.out, 'runs')}; resume with: ${resume}`,
        },
        (stop) =>
          runQuickstart({
            registry: ctx.registry(),
            configsDir: opts.configs,
            outDir: opts.out,
            logger: ctx.logger,
            shouldStop: stop.requested,
          }),
      );
      if (r.interrupted) {
        ctx.err(
          `interrupted in ${path.basename(r.interrupted.config)} (${r.interrupted.done}/${r.interrupted.total} samples kept) after ${r.entries.length} finished configs; ` +
            `everything done is kept in ${path.resolve(opts.out, 'runs')}; resume with: ${resume} (finished runs are not recomputed)`,
        );
        result.code = 130;
        return;
      }
      ctx.out(r.table);
      ctx.out(`These numbers use a reduced protocol (small subset, few attack steps): compare them only with each other.`);
      ctx.out(`entries: ${path.resolve(r.entriesDir)}`);
      ctx.out(`site: ${path.resolve(r.site)} (open it, or serve ${path.resolve(path.dirname(r.site))} with any static file server)`);
      ctx.out(`total time ${formatDuration((Date.now() - t0) / 1000)}`);
    });
};
