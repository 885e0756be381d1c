import { formatBytes, type Dataset } from '@dbp-bench/framework';
import { DOWNLOADS, downloadDataset, formatSummary, summarizeDataset } from '@dbp-bench/datasets';
import type { AddCommand } from './types';
import { formatTable } from './plugins';
import { collect, dataDirOption, datasetOptionsFromFlags } from './dataset-args';

/**
 * `dbp-bench data list | download <name> | info <name>`: the datasets of @dbp-bench/datasets (and
 * any --plugin dataset), verified downloads of the official archives, and a summary of a split.
 */
export const addDataCommand: AddCommand = (program, context) => {
  const data = program.command('data').description('datasets: list, download (verified), inspect');

  data
    .command('list')
    .description('list dataset plugins and which of them `data download` can fetch')
    .action(() => {
      const ctx = context();
      const rows = ctx
        .registry()
        .list('dataset')
        .map((p) => [
          p.id,
          DOWNLOADS[p.id] ? `yes (${formatBytes(DOWNLOADS[p.id].files.reduce((a, f) => a + f.size, 0))})` : 'no',
          p.package,
          p.description,
        ]);
      ctx.out(formatTable(['id', 'download', 'package', 'description'], rows));
    });

  data
    .command('download <name>')
    .description(`download, verify (size + sha256/md5) and extract a dataset: ${Object.keys(DOWNLOADS).join(', ')}`)
    .option('--dir <dir>', 'data directory (default: data/<name>)')
    .option('--mirror <url>', 'base URL serving the same files as <url>/<file name> (default: env DBP_DATA_MIRROR, else the official URLs)')
    .option('--retries <n>', 'attempts to resume after a lost connection', (v: string) => Number.parseInt(v, 10), 3)
    .option('--timeout <seconds>', 'socket idle timeout', (v: string) => Number(v), 30)
    .option('--remove-archive', 'delete the archive after a successful extraction')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        name: string,
        opts: { dir?: string; mirror?: string; retries: number; timeout: number; removeArchive?: boolean; json?: boolean },
      ) => {
        const ctx = context();
        const dir = opts.dir ?? `data/${name}`;
        const r = await downloadDataset(name, {
          dir,
          mirror: opts.mirror,
          logger: ctx.logger,
          retries: opts.retries,
          timeoutMs: Math.round(opts.timeout * 1000),
          removeArchive: opts.removeArchive,
        });
        if (opts.json) {
          ctx.out(JSON.stringify(r, null, 2));
          return;
        }
        if (r.alreadyPresent) ctx.out(`${name}: already installed in ${r.extracted ?? r.dir}`);
        for (const f of r.files)
          ctx.out(`${f.name}: ${f.how}, ${formatBytes(f.size)}, sha256 ${f.sha256} (verified: ${f.verified.join(', ')})`);
        if (r.extracted && !r.alreadyPresent) ctx.out(`extracted to ${r.extracted}`);
        if (!r.alreadyPresent) ctx.out(`manifest: ${r.manifest}`);
      },
    );

  dataDirOption(
    data
      .command('info <name>')
      .description("print count, image shape, classes, per-class counts and the first image's label and pixel (0,0) (0..255)"),
  )
    .option('--split <split>', 'split (train, test, val)')
    .option('--option <key=value>', 'another plugin option (JSON value or string); repeatable', collect, [])
    .option('--json', 'print the summary as JSON')
    .action(async (name: string, opts: { dataDir?: string; split?: string; option: string[]; json?: boolean }) => {
      const ctx = context();
      const registry = ctx.registry();
      const options = datasetOptionsFromFlags(registry, name, opts);
      await ctx.backend();
      const ds = await registry.createScope({ logger: ctx.logger }).create<Dataset>('dataset', name, options);
      const summary = await summarizeDataset(ds);
      ctx.out(opts.json ? JSON.stringify(summary, null, 2) : formatSummary(summary));
    });
};
