/**
 * The dataset flags that several commands share (`data info`, `eval`, `purify`, `analyze`), so that
 * they mean the same thing everywhere: `--data-dir <dir>` is the dataset plugin's `dir` option (the
 * folder holding that dataset's files, relative to the working directory), `--option key=value` any
 * other option of the plugin.
 */
import { ConfigValidationError, type PluginRegistry } from '@dbp-bench/framework';
import type { Command } from 'commander';

/** Help text of `--data-dir`, identical in every command. */
export const DATA_DIR_HELP =
  "folder holding the dataset's files: the dataset plugin's `dir` option, relative to the working directory (for mnist: the official IDX files in that folder instead of the bundled data)";

/** Add `--data-dir <dir>` to a command. */
export function dataDirOption(cmd: Command): Command {
  return cmd.option('--data-dir <dir>', DATA_DIR_HELP);
}

/** Parse repeatable `--option key=value` pairs; values are JSON when they parse, else strings. */
export function parseKeyValues(pairs: readonly string[], flag = '--option'): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new ConfigValidationError(flag, [`'${p}': expected key=value`]);
    const v = p.slice(eq + 1);
    let parsed: unknown = v;
    try {
      parsed = JSON.parse(v);
    } catch {
      parsed = v;
    }
    out[p.slice(0, eq)] = parsed;
  }
  return out;
}

/** Collect a repeatable flag into a list (commander accumulator). */
export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/**
 * The options of dataset plugin `id` given by the shared flags: `--option` pairs, then `--split`, then
 * `--data-dir` as the plugin's `dir` option. A `--data-dir` for a plugin that reads no files (no `dir`
 * option in its schema) is an error naming the plugin; an unknown id is left to the registry's error.
 */
export function datasetOptionsFromFlags(
  registry: PluginRegistry,
  id: string,
  flags: { dataDir?: string; split?: string; option?: readonly string[] },
): Record<string, unknown> {
  const options = parseKeyValues(flags.option ?? []);
  if (flags.split !== undefined) options.split = flags.split;
  if (flags.dataDir !== undefined) {
    if (registry.has('dataset', id)) {
      const props = (registry.get('dataset', id).schema.properties ?? {}) as Record<string, unknown>;
      if (!('dir' in props))
        throw new ConfigValidationError(`--data-dir for dataset '${id}'`, [`dataset '${id}' reads no files (it has no 'dir' option)`]);
    }
    options.dir = flags.dataDir;
  }
  return options;
}
