import { InvalidArgumentError } from 'commander';
import { loadTrainConfig, runTrainConfig, trainOutDir } from '@dbp-bench/trainers-at';
import type { AddCommand } from './types';
import { rerunCommand, typedArgs, withStopSignals } from '../signals';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/**
 * `dbp-bench train <config.json> [--out dir] [--resume]`: run a trainer plugin (standard, pgd-at,
 * trades, ddpm, addt, or one from --plugin) from a train config. Progress with ETA on stderr;
 * checkpoints, loss.jsonl, loss.svg, model.safetensors and result.json in the output directory.
 * Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes a checkpoint, prints the command that
 * resumes and exits 130 (a second signal exits at once); `--resume` continues exactly.
 */
export const addTrainCommand: AddCommand = (program, context, result) => {
  const train = program
    .command('train <config>')
    .description('train a model from a train config (configs/train/*.json); resumable, with loss log and curve')
    .option('--out <dir>', "output directory (default: the config's `out`, else runs/train/<config name>)")
    .option('--resume', 'continue from the newest checkpoint in the output directory (gives the same weights as an uninterrupted run)')
    .option(
      '--stop-after <steps>',
      'stop after this many steps in this process, with a checkpoint (resume later with --resume)',
      positiveInt,
    )
    .option('--no-export', "do not copy the final weights to the config's `export` path")
    .option('--dry-run', 'validate the config and print it with defaults filled, without training')
    .action(async (file: string, opts: { out?: string; resume?: boolean; stopAfter?: number; dryRun?: boolean; export: boolean }) => {
      const ctx = context();
      if (opts.dryRun) {
        const { config } = loadTrainConfig(ctx.registry(), file);
        ctx.out(JSON.stringify({ outDir: trainOutDir(config, file, opts.out), config }, null, 2));
        return;
      }
      await ctx.backend();
      const outDir = trainOutDir(loadTrainConfig(ctx.registry(), file).config, file, opts.out);
      const resume = rerunCommand(typedArgs(program), { '--stop-after': null }, ['--resume']);
      const res = await withStopSignals(
        ctx.logger,
        {
          unit: 'step',
          keeps: 'then writing a checkpoint',
          abandon: () => `The checkpoints written so far are kept in ${outDir}; resume with: ${resume}`,
        },
        (stop) =>
          runTrainConfig(ctx.registry(), file, {
            logger: ctx.logger,
            out: opts.out,
            resume: opts.resume,
            stopAfterSteps: opts.stopAfter,
            shouldStop: stop.requested,
            export: opts.export,
          }).then((r) => ({ ...r, stopped: stop.requested() })),
      );
      ctx.out(
        JSON.stringify(
          {
            outDir: res.outDir,
            weights: res.weights,
            steps: res.steps,
            partial: res.partial,
            finalLoss: res.finalLoss,
            exported: res.exported ?? null,
          },
          null,
          2,
        ),
      );
      if (res.partial && res.stopped) {
        ctx.err(`interrupted: ${res.steps} steps done, a checkpoint of the last one kept in ${res.outDir}; resume with: ${resume}`);
        result.code = 130;
      }
    });
  train.addHelpText(
    'after',
    `
Config file: {"trainer": "<id>", "out": "runs/train/x", "export": "../../weights/x.safetensors",
"options": {...}}; \`export\` and paths inside options are relative to the config file, \`out\` to the
working directory. Trainer options: \`dbp-bench plugins schema trainer <id>\`.
Output: checkpoints/step-N/ (model, optimizer, EMA, RNG state), loss.jsonl, loss.svg,
model.safetensors (EMA weights when EMA is on), result.json (with the sha256 of the weights).`,
  );
};
