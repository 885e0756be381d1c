import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError } from '@dbp-bench/framework';
import {
  assertUniqueEntryIds,
  buildSite,
  entryPath,
  formatLeaderboardText,
  importRobustBench,
  loadEntries,
  readEntry,
  writeEntry,
  type LoadedEntry,
} from '@dbp-bench/leaderboard';
import { DEFAULT_ENTRIES_DIR } from './run';
import type { AddCommand } from './types';

/** `dbp-bench leaderboard ...`: import RobustBench entries, validate and show entries, build the site. */
export const addLeaderboardCommand: AddCommand = (program, context, result) => {
  const lb = program.command('leaderboard').description('leaderboard entries and the static site');

  lb.command('import-robustbench <source>')
    .description('convert RobustBench model_info JSON files (a file or a model_info directory) into reported entries')
    .option('--out <dir>', `entries directory (default ${DEFAULT_ENTRIES_DIR})`)
    .option('--threat <Linf|L2>', 'threat model when the path has no Linf/L2 directory')
    .action((source: string, opts: { out?: string; threat?: string }) => {
      const ctx = context();
      const dir = opts.out ?? DEFAULT_ENTRIES_DIR;
      const res = importRobustBench(source, { threat: opts.threat, logger: ctx.logger });
      for (const { entry } of res.entries) {
        const file = entryPath(dir, entry);
        writeEntry(file, entry);
        ctx.out(`${file}`);
      }
      ctx.out(
        `imported ${res.entries.length} entr${res.entries.length === 1 ? 'y' : 'ies'}${res.skipped.length ? `, skipped ${res.skipped.length}` : ''}`,
      );
    });

  lb.command('build <entries>')
    .description('build the static site (works offline and from a plain file server) from an entries directory')
    .requiredOption('--out <dir>', 'output directory of the site')
    .option('--title <text>', 'page title', 'dbp-bench leaderboard')
    .action(async (entries: string, opts: { out: string; title: string }) => {
      const ctx = context();
      const loaded = loadEntries(entries);
      if (!loaded.length)
        throw new DataFormatError(
          entries,
          'holds no leaderboard entries (expected <dataset>/<threat>/<id>.json files, as `dbp-bench run` and `leaderboard import-robustbench` write them); nothing was built',
        );
      const res = await buildSite(loaded, opts.out, { title: opts.title, logger: ctx.logger });
      ctx.out(
        `site: ${path.resolve(res.index)} (${loaded.length} entries, ${res.pages.length} pages, ${res.downloads.length} results files)`,
      );
    });

  lb.command('validate <paths...>')
    .description(
      'validate entry files (or every entry under directories): the entry schema, its consistency rules, and unique ids per dataset and threat model',
    )
    .action((paths: string[]) => {
      const ctx = context();
      const all: LoadedEntry[] = [];
      for (const p of paths) {
        if (fs.existsSync(p) && fs.statSync(p).isDirectory()) all.push(...loadEntries(p));
        else all.push({ file: p, entry: readEntry(p) });
      }
      // The check `leaderboard build` applies: one id per dataset and threat model, over every path given.
      assertUniqueEntryIds(all);
      const n = all.length;
      ctx.out(`OK: ${n} entr${n === 1 ? 'y' : 'ies'} valid`);
      result.code = 0;
    });

  lb.command('show <entries>')
    .description('print the leaderboard tables of an entries directory')
    .action((entries: string) => {
      const ctx = context();
      ctx.out(formatLeaderboardText(loadEntries(entries).map((l) => l.entry)));
    });
};
