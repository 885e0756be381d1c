/**
 * `dbp-bench export <run dir> --out <dir>`: the returned adversarial examples of every attack, the
 * predictions of every draw and the keys that recompute them. `dbp-bench recheck <dir>`: recompute
 * every draw of an export (or of a finished run directory) and compare (docs/RUNNER.md).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError } from '@dbp-bench/framework';
import { EXPORT_MANIFEST, RUN_INFO_FILE, exportRun, recheckExport } from '@dbp-bench/runner';
import type { AddCommand } from './types';

function positionsOption(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const out = text.split(',').map((s) => Number(s.trim()));
  if (!out.length || out.some((p) => !Number.isInteger(p) || p < 0))
    throw new ConfigValidationError('--samples', [`'${text}': expected subset positions such as 0,3,7`]);
  return out;
}

export const addExportCommands: AddCommand = (program, context, result) => {
  program
    .command('export <run-dir>')
    .description(
      "write a finished run's adversarial examples (one safetensors file per attack), every draw's prediction and the keys that recompute them",
    )
    .requiredOption('--out <dir>', 'output directory')
    .action((runDir: string, opts: { out: string }) => {
      const ctx = context();
      const m = exportRun(runDir, opts.out);
      ctx.out(
        `exported run ${m.run} to ${opts.out}: ${m.clean.samples.length} samples x ${m.draws} draws clean, ` +
          m.attacks.map((a) => `${a.samples.length} adversarial examples of '${a.name}' (${a.file})`).join(', ') +
          `; check them with: dbp-bench recheck ${opts.out}`,
      );
    });

  program
    .command('recheck <dir>')
    .description('recompute every draw of an export (or a finished run directory) from its keys and compare with the recorded predictions')
    .option('--samples <positions>', 'only these subset positions (comma-separated)')
    .action(async (dir: string, opts: { samples?: string }) => {
      const ctx = context();
      await ctx.backend();
      let exportDir = dir;
      let tmp: string | undefined;
      if (!fs.existsSync(path.join(dir, EXPORT_MANIFEST)) && fs.existsSync(path.join(dir, RUN_INFO_FILE))) {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-recheck-'));
        exportRun(dir, tmp);
        exportDir = tmp;
      }
      try {
        const r = await recheckExport(exportDir, ctx.registry(), { positions: positionsOption(opts.samples), logger: ctx.logger });
        if (r.weightsChanged) ctx.logger.warn('recheck: the classifier weights file differs from the one the run used (sha256)');
        for (const c of r.checked) {
          const bad = r.mismatches.filter((x) => x.what === c.what).length;
          ctx.out(`${c.what}: ${c.samples} samples, ${c.draws} draws: ${bad ? `${bad} samples DIFFER` : 'all draws match'}`);
        }
        for (const x of r.mismatches.slice(0, 20))
          ctx.out(
            `  ${x.what}: position ${x.position} (index ${x.index}): recorded ${JSON.stringify(x.recorded)}, recomputed ${JSON.stringify(x.recomputed)}`,
          );
        if (r.mismatches.length) {
          ctx.out(`recheck FAILED: ${r.mismatches.length} samples do not reproduce`);
          result.code = 1;
        } else ctx.out('recheck OK: every draw reproduces');
      } finally {
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
      }
    });
};
