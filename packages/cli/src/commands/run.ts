import * as path from 'node:path';
import { formatAttackChecksText, formatLeaderboardText } from '@dbp-bench/leaderboard';
import { estimateRun, formatRunEstimate, mergeRun, resolveShard, runBenchmark } from '@dbp-bench/runner';
import type { AddCommand } from './types';
import { withStopSignals } from '../signals';

/** Default entries directory (relative to the working directory). */
export const DEFAULT_ENTRIES_DIR = path.join('leaderboard', 'entries');

function positiveInt(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new Error(`${name} must be a non-negative integer, got '${v}'`);
    return Number(v);
  };
}

/**
 * `dbp-bench run <config.json>`: run, resume or shard a benchmark; `dbp-bench merge`: combine shard
 * journals into the entry an unsharded run writes.
 */
export const addRunCommand: AddCommand = (program, context, result) => {
  program
    .command('run <config>')
    .description(
      'run a benchmark config (resumes from its journal when rerun); writes <out>/<run-hash>/ and, when complete and unsharded, a leaderboard entry',
    )
    .option(
      '--shard <i/n>',
      'run shard i of n (0-based); also read from DBP_SHARD, SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, JOB_COMPLETION_INDEX + DBP_SHARD_COUNT',
    )
    .option(
      '--shard-count <n>',
      'number of shards when the index comes from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX',
      positiveInt('--shard-count'),
    )
    .option('--out <dir>', "output root (default: the config's output.dir, else runs/)")
    .option('--entries <dir>', `entries directory for the finished entry (default ${DEFAULT_ENTRIES_DIR})`)
    .option('--no-entries', 'do not write the entry into an entries directory (only into the run directory)')
    .option(
      '--stop-after-batches <k>',
      'stop (resumably) after computing k batches (also DBP_STOP_AFTER_BATCHES)',
      positiveInt('--stop-after-batches'),
    )
    .option(
      '--dry-run',
      'print the plan (samples, batches, rows per attack, network calls) and an estimated wall time measured on this machine (one forward+backward pass of --probe-rows rows), then stop; writes nothing',
    )
    .option('--probe-rows <n>', 'rows of the timed passes of --dry-run (default 8)', positiveInt('--probe-rows'))
    .option(
      '--restart',
      "discard this shard's journal (and an unsharded run's results) and start over; needed after a weights file or plugin module changed",
    )
    .action(
      async (
        file: string,
        opts: {
          shard?: string;
          shardCount?: number;
          out?: string;
          entries?: string | boolean;
          stopAfterBatches?: number;
          restart?: boolean;
          dryRun?: boolean;
          probeRows?: number;
        },
      ) => {
        const ctx = context();
        await ctx.backend();
        const shard = resolveShard(opts.shard, process.env, opts.shardCount);
        if (opts.dryRun) {
          const estimate = await estimateRun({
            registry: ctx.registry(),
            config: file,
            shard,
            logger: ctx.logger,
            probeRows: opts.probeRows,
          });
          ctx.out(formatRunEstimate(estimate));
          return;
        }
        const envStop = process.env.DBP_STOP_AFTER_BATCHES;
        const stopAfterBatches = opts.stopAfterBatches ?? (envStop ? positiveInt('DBP_STOP_AFTER_BATCHES')(envStop) : undefined);
        const entriesDir = opts.entries === false ? null : typeof opts.entries === 'string' ? opts.entries : DEFAULT_ENTRIES_DIR;
        if (shard.count > 1) ctx.logger.info(`shard ${shard.index}/${shard.count} (from ${shard.source})`);
        // the command that resumes this run (the same one, without --restart)
        const resume = [
          'dbp-bench run',
          file,
          ...(opts.shard ? ['--shard', opts.shard] : []),
          ...(opts.out ? ['--out', opts.out] : []),
        ].join(' ');
        const outcome = await withStopSignals(
          ctx.logger,
          {
            unit: 'batch',
            abandon: () => `Every batch finished before it is kept in the run's journal; resume with: ${resume}`,
          },
          (stop) =>
            runBenchmark({
              registry: ctx.registry(),
              config: file,
              outDir: opts.out,
              shard,
              logger: ctx.logger,
              stopAfterBatches,
              entriesDir,
              restart: Boolean(opts.restart),
              shouldStop: stop.requested,
            }),
        );
        if (outcome.interrupted) {
          ctx.err(
            `interrupted: ${outcome.samples.done}/${outcome.samples.total} samples kept in ${outcome.journal}; resume with: ${resume}`,
          );
          result.code = 130;
          return;
        }
        if (outcome.entry) {
          ctx.out(formatLeaderboardText([outcome.entry]));
          ctx.out(formatAttackChecksText(outcome.entry));
          ctx.out(`entry: ${outcome.entryFile}\nrun directory: ${outcome.runDir}`);
        } else {
          ctx.out(
            `run ${outcome.run} shard ${shard.index}/${shard.count}: ${outcome.samples.done}/${outcome.samples.total} samples journaled in ${outcome.journal}${outcome.complete ? '' : ' (incomplete: rerun to resume)'}`,
          );
        }
        if (outcome.checkWarning) ctx.err(outcome.checkWarning);
      },
    );

  program
    .command('merge <inputs...>')
    .description('merge the shard journals of one run (run directories or journal files) into its leaderboard entry')
    .option('--out <entry.json>', 'entry file to write (its .results.jsonl goes next to it)')
    .option('--entries <dir>', `entries directory when --out is not given (default ${DEFAULT_ENTRIES_DIR})`)
    .action((inputs: string[], opts: { out?: string; entries?: string }) => {
      const ctx = context();
      const m = mergeRun(inputs, {
        out: opts.out,
        entriesDir: opts.out ? null : (opts.entries ?? DEFAULT_ENTRIES_DIR),
        logger: ctx.logger,
      });
      ctx.out(formatLeaderboardText([m.entry]));
      ctx.out(formatAttackChecksText(m.entry));
      ctx.out(`entry: ${m.entryFile} (${m.records.length} samples from ${m.journals.length} journal(s))`);
      if (m.checkWarning) ctx.err(m.checkWarning);
    });
};
