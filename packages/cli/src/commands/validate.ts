import { loadRunConfig } from '@dbp-bench/runner';
import type { AddCommand } from './types';

/** `dbp-bench validate <config.json>`: validate a run config against the composed schema. */
export const addValidateCommand: AddCommand = (program, context) => {
  program
    .command('validate <config>')
    .description('validate a run config (all errors with JSON paths); print the resolved config with defaults')
    .option('--quiet', 'print only OK or the errors')
    .action((file: string, opts: { quiet?: boolean }) => {
      const ctx = context();
      const { config, hash } = loadRunConfig(ctx.registry(), file);
      if (opts.quiet) ctx.out(`OK ${file} (run ${hash})`);
      else ctx.out(JSON.stringify({ run: hash, config }, null, 2));
    });
};
