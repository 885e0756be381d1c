import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, fileOptions, readJsonFile, type Dataset, type Defense, type PluginKind } from '@dbp-bench/framework';
import { loadClassifier } from '@dbp-bench/models';
import { estimateRun, formatRunEstimate, loadRunConfig, planAttacks, runThreat } from '@dbp-bench/runner';
import { loadTrainConfig, recipeHash, trainOutDir } from '@dbp-bench/trainers-at';
import type { CliContext } from '../context';
import type { AddCommand } from './types';

/**
 * What `run` would refuse in its preflight that the schema cannot see, one line per problem with its
 * JSON path: files the config names (classifier weights and every file option of its plugins) that
 * do not exist, plugins that cannot be built (a weights file of the wrong kind, a budget larger than
 * the input), attacks the defense cannot serve, the threat model of the attacks, a classifier whose
 * classes differ from the dataset's, and a randomized defense attacked with EoT 1 on fresh noise.
 */
export async function runnableProblems(ctx: CliContext, source: string): Promise<string[]> {
  const registry = ctx.registry();
  const { config, baseDir, file } = loadRunConfig(registry, source);
  const scope = registry.createScope({ logger: ctx.logger, baseDir });
  const problems: string[] = [];
  const missing = (where: string, value: string): void => {
    const p = scope.resolvePath(value);
    if (!fs.existsSync(p)) problems.push(`${where}: ${p} not found (resolved from ${JSON.stringify(value)} against ${baseDir})`);
  };
  missing('$.classifier.weights', config.classifier.weights);
  const slots: [string, PluginKind, { id: string; options: unknown }][] = [
    ['$.dataset', 'dataset', config.dataset],
    ['$.defense', 'defense', config.defense],
    ...config.attacks.map((a, k) => [`$.attacks[${k}]`, 'attack', a] as [string, PluginKind, { id: string; options: unknown }]),
  ];
  for (const [where, kind, slot] of slots) {
    for (const f of fileOptions(registry.get(kind, slot.id).schema, slot.options)) missing(`${where}.options.${f.path}`, f.value);
  }
  if (problems.length) return problems;
  await ctx.backend();
  const step = async <T>(where: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      if (e instanceof ConfigValidationError) problems.push(...e.problems);
      else problems.push(`${where}: ${(e as Error).message}`);
      return undefined;
    }
  };
  const dataset = await step('$.dataset', () => scope.create<Dataset>('dataset', config.dataset.id, config.dataset.options));
  const classifier = await step('$.classifier.weights', () => loadClassifier(scope.resolvePath(config.classifier.weights)));
  const defense = await step('$.defense', () => scope.create<Defense>('defense', config.defense.id, config.defense.options));
  try {
    if (dataset && classifier && classifier.numClasses !== dataset.info.numClasses)
      problems.push(
        `$.classifier.weights: the classifier has ${classifier.numClasses} classes, dataset '${dataset.info.id}' has ${dataset.info.numClasses}`,
      );
    if (!dataset || !defense) return problems;
    const attacks = await step('$.attacks', () => planAttacks(registry, scope, config, dataset, defense, file, ctx.logger));
    if (!attacks) return problems;
    await step('$.attacks', async () => runThreat(attacks, config.leaderboard.threatModel));
    if (defense.capabilities.stochastic) {
      attacks.forEach((a, k) => {
        if (a.eot <= 1 && a.policy === 'fresh')
          problems.push(
            `$.attacks[${k}]: defense '${defense.id}' is randomized but attack '${a.name}' (${a.id}) uses EoT ${a.eot} with fresh noise, ` +
              'which `run` refuses: set its eot.samples above 1 (expectation over transformation) or use a DW-box noise policy (fwd, rev, both)',
          );
      });
    }
  } finally {
    (classifier as { dispose?: () => void } | undefined)?.dispose?.();
    (defense as { dispose?: () => void } | undefined)?.dispose?.();
  }
  return problems;
}

/** A train config (`dbp-bench train`) rather than a run config: it names a trainer and no attacks. */
function isTrainConfig(file: string): boolean {
  let raw: unknown;
  try {
    raw = readJsonFile(path.resolve(file));
  } catch {
    return false; // the run config loader reports the file's problem
  }
  return typeof raw === 'object' && raw !== null && 'trainer' in raw && !('attacks' in raw);
}

/** The files a train config's trainer options name that do not exist (init weights, a classifier, a data dir). */
function trainConfigProblems(ctx: CliContext, file: string): string[] {
  const registry = ctx.registry();
  const { config, baseDir } = loadTrainConfig(registry, file);
  const scope = registry.createScope({ logger: ctx.logger, baseDir });
  const problems: string[] = [];
  for (const f of fileOptions(registry.get('trainer', config.trainer).schema, config.options)) {
    const p = scope.resolvePath(f.value);
    if (!fs.existsSync(p))
      problems.push(`$.options.${f.path}: ${p} not found (resolved from ${JSON.stringify(f.value)} against ${baseDir})`);
  }
  return problems;
}

/** `dbp-bench validate <config.json>`: the schema, then everything `run` checks before it computes. */
export const addValidateCommand: AddCommand = (program, context) => {
  program
    .command('validate <config>')
    .description(
      "validate a run config: the schema (all errors with JSON paths), then the files it names, the plugins it builds and the protocol rules run checks; print the resolved config with defaults. A train config (one with a `trainer`) is checked against its trainer's schema and the files its options name",
    )
    .option('--quiet', 'print only OK or the errors')
    .option('--schema-only', 'check the schema only (no files, no plugins built)')
    .option('--eta', 'after the checks, print the plan and the estimated wall time of the run (as `run --dry-run`)')
    .action(async (file: string, opts: { quiet?: boolean; schemaOnly?: boolean; eta?: boolean }) => {
      const ctx = context();
      if (opts.eta && opts.schemaOnly)
        throw new Error('validate: --eta builds the plugins and times them on this machine; it cannot be combined with --schema-only');
      if (isTrainConfig(file)) {
        if (opts.eta)
          throw new Error(`validate: ${file} is a train config; --eta estimates run configs (a training run prints its ETA as it goes)`);
        const { config } = loadTrainConfig(ctx.registry(), file);
        if (!opts.schemaOnly) {
          const problems = trainConfigProblems(ctx, file);
          if (problems.length) throw new ConfigValidationError(file, problems);
        }
        const recipe = recipeHash(config.options);
        if (opts.quiet)
          ctx.out(
            `OK ${file} (train config, trainer '${config.trainer}', recipe ${recipe})${opts.schemaOnly ? ', schema only' : ': files found'}`,
          );
        else ctx.out(JSON.stringify({ trainer: config.trainer, recipe, outDir: trainOutDir(config, file), config }, null, 2));
        return;
      }
      const { config, hash } = loadRunConfig(ctx.registry(), file);
      if (!opts.schemaOnly) {
        const problems = await runnableProblems(ctx, file);
        if (problems.length) throw new ConfigValidationError(file, problems);
      }
      if (opts.quiet)
        ctx.out(`OK ${file} (run ${hash})${opts.schemaOnly ? ', schema only' : ': files found, plugins built, protocol checked'}`);
      else ctx.out(JSON.stringify({ run: hash, config }, null, 2));
      if (opts.eta) {
        await ctx.backend();
        ctx.out(formatRunEstimate(await estimateRun({ registry: ctx.registry(), config: file, logger: ctx.logger })));
      }
    });
};
