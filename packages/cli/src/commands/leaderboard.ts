import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataFormatError, DbpError } from '@dbp-bench/framework';
import {
  assertUniqueEntryIds,
  buildSite,
  entryPath,
  formatLeaderboardText,
  importRobustBench,
  loadEntries,
  readEntry,
  readStudy,
  studyEntryIds,
  writeEntry,
  type LoadedEntry,
} from '@dbp-bench/leaderboard';
import { checkEntryResults } from '@dbp-bench/runner';
import { withStopSignals } from '../signals';
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
    .description(
      'build the static site from an entries directory: relative links only, so it deploys unchanged to any static host (and works offline); ' +
        'built in a temporary directory that replaces --out at the end',
    )
    .requiredOption('--out <dir>', 'output directory of the site (new, empty, or a previous site: it is replaced as a whole)')
    .option('--title <text>', 'page title', 'dbp-bench leaderboard')
    .option('--base-url <url>', 'absolute http(s) URL the site is served from: writes sitemap.xml (without it, no sitemap)')
    .option(
      '--study <file>',
      'a study definition JSON (leaderboard/schema/study.schema.json): adds the page study-<id>.html, linked from the index, with its figures (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (entries: string, opts: { out: string; title: string; baseUrl?: string; study?: string[] }) => {
      const ctx = context();
      const loaded = loadEntries(entries);
      // every study file is read and checked (schema, figures) before anything is built
      const studies = (opts.study ?? []).map((f) => readStudy(f));
      if (!loaded.length)
        throw new DataFormatError(
          entries,
          'holds no leaderboard entries (expected <dataset>/<threat>/<id>.json files, as `dbp-bench run` and `leaderboard import-robustbench` write them); nothing was built',
        );
      const resume = [
        'dbp-bench leaderboard build',
        entries,
        '--out',
        opts.out,
        ...(opts.baseUrl ? ['--base-url', opts.baseUrl] : []),
        ...(opts.study ?? []).flatMap((f) => ['--study', f]),
      ].join(' ');
      const previous = fs.existsSync(path.join(opts.out, 'index.html'))
        ? `the previous site in ${opts.out} is intact`
        : `nothing was written to ${opts.out}`;
      let staging: string | null = null;
      const { res, stopped } = await withStopSignals(
        ctx.logger,
        {
          unit: 'site',
          abandon: () => {
            const staged = staging !== null;
            if (staging) fs.rmSync(staging, { recursive: true, force: true });
            return `${staged ? 'The temporary directory the site was being built in was removed' : 'No site was being written yet'}; a site replaces --out only when complete, so ${previous}. Build it again with: ${resume}`;
          },
        },
        async (stop) => ({
          res: await buildSite(loaded, opts.out, {
            title: opts.title,
            logger: ctx.logger,
            baseUrl: opts.baseUrl,
            studies,
            onStaging: (dir) => (staging = dir),
          }),
          stopped: stop.signal(),
        }),
      );
      ctx.out(
        `site: ${path.resolve(res.index)} (${loaded.length} entries, ${res.pages.length} pages, ${res.downloads.length} results files)`,
      );
      for (const [i, st] of studies.entries()) {
        const named = studyEntryIds(st.study);
        const ids = new Set(
          loaded
            .filter((l) => l.entry.dataset.id === st.study.dataset && l.entry.threatModel.id === st.study.threatModel)
            .map((l) => l.entry.id),
        );
        const done = named.filter((id) => ids.has(id)).length;
        ctx.out(`study: ${path.resolve(res.studies[i])} (${done} of ${named.length} cells finished, ${st.figures.length} figures)`);
      }
      if (res.sitemap) ctx.out(`sitemap: ${path.resolve(res.sitemap)}`);
      else ctx.out('sitemap: not written (a sitemap needs absolute URLs: pass --base-url <the URL the site is served from>)');
      // The site is the unit: after a first Ctrl-C it was finished and kept, and nothing is left to do.
      if (stopped) ctx.err(`${stopped}: the site was completed before stopping; ${path.resolve(opts.out)} holds the new site`);
    });

  lb.command('validate <paths...>')
    .description(
      'validate entry files (or every entry under directories): the entry schema and consistency rules, unique ids per dataset and threat model, ' +
        'and for measured entries their per-sample results file (next to the entry: sha256, record count, every record, and the aggregates re-computed from the records)',
    )
    .option('--json', 'print the report as JSON on stdout (one object per entry, with its problems)')
    .action((paths: string[], opts: { json?: boolean }) => {
      const ctx = context();
      const all: LoadedEntry[] = [];
      for (const p of paths) {
        if (fs.existsSync(p) && fs.statSync(p).isDirectory()) all.push(...loadEntries(p));
        else all.push({ file: p, entry: readEntry(p) });
      }
      // The check `leaderboard build` applies: one id per dataset and threat model, over every path given.
      assertUniqueEntryIds(all);
      const report = all.map(({ file, entry, root }) => {
        const problems: string[] = [];
        // Under an entries directory, an entry lies where `run` and `import-robustbench` put it.
        if (root !== undefined) {
          const expected = entryPath(root, entry);
          if (path.resolve(file) !== path.resolve(expected))
            problems.push(
              `${file}: $.id, $.dataset.id, $.threatModel.id: an entry of ${root} lies at <dataset>/<threat>/<id>.json, here ${expected}`,
            );
        }
        const check = checkEntryResults(file, entry, root);
        problems.push(...check.problems);
        return { file, id: entry.id, kind: entry.kind, status: check.status, records: check.records ?? null, problems };
      });
      const bad = report.filter((r) => r.problems.length);
      const measured = report.filter((r) => r.status === 'checked').length;
      const reported = report.length - measured;
      const n = report.length;
      if (opts.json) ctx.out(JSON.stringify({ ok: bad.length === 0, entries: report }, null, 2));
      const summary = [
        measured ? `${measured} measured (re-computed from their per-sample results files)` : '',
        reported ? `${reported} reported (imported numbers: schema and rules only, no results file to re-compute)` : '',
      ]
        .filter(Boolean)
        .join(', ');
      if (bad.length) {
        // One line per problem, each naming the file and the field (or the results file and line).
        throw new DbpError(
          'E_SUBMISSION',
          `${bad.length} of ${n} entr${n === 1 ? 'y' : 'ies'} failed validation (${summary}):\n${bad.flatMap((r) => r.problems).join('\n')}`,
        );
      }
      if (!opts.json) ctx.out(`OK: ${n} entr${n === 1 ? 'y' : 'ies'} valid${summary ? `: ${summary}` : ''}`);
      result.code = 0;
    });

  lb.command('show <entries>')
    .description('print the leaderboard tables of an entries directory')
    .action((entries: string) => {
      const ctx = context();
      ctx.out(formatLeaderboardText(loadEntries(entries).map((l) => l.entry)));
    });
};
