import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigValidationError, LIMITS, readTextChecked, sha256File } from '@dbp-bench/framework';
import { UNET_PRESETS, convertWeights, readWeightsFile, saveModel, type ArchId, type UNetPreset } from '@dbp-bench/models';
import type { AddCommand } from './types';
import { formatTable } from './plugins';

/** Parse `r,g,b` into numbers; names the option in the error. */
export function parseNumberList(option: string, v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x)))
    throw new ConfigValidationError(option, [`'${v}': expected comma-separated numbers, e.g. 0.4914,0.4822,0.4465`]);
  return xs;
}

/** `--config` is inline JSON or the path of a JSON file. */
function parseConfig(v: string): Record<string, unknown> {
  const text = fs.existsSync(v) ? readTextChecked(v, 'a JSON config file (--config)', { maxBytes: LIMITS.configBytes }) : v;
  try {
    const o = JSON.parse(text) as unknown;
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new Error('not an object');
    return o as Record<string, unknown>;
  } catch (e) {
    throw new ConfigValidationError('--config', [
      `expected a JSON object or the path of a JSON file, got '${v.slice(0, 80)}' (${(e as Error).message})`,
    ]);
  }
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : String(n);
}

/**
 * `dbp-bench weights convert <in> <out.safetensors>`: import a PyTorch checkpoint (zip or legacy
 * format) or a plain safetensors file onto one of the project's architectures.
 * `dbp-bench weights inspect <file>`: tensors, shapes, dtypes and parameter count of any weights file.
 */
export const addWeightsCommand: AddCommand = (program, context) => {
  const weights = program.command('weights').description('model weights: import PyTorch checkpoints, inspect files');

  weights
    .command('convert <input> <output>')
    .description(
      'convert a PyTorch checkpoint (.pt/.pth/.ckpt/.bin, zip or legacy format) or a safetensors file to a dbp-bench safetensors file',
    )
    .option(
      '--arch <id>',
      'target architecture: unet, small-cnn, resnet20, resnet56, preact-resnet18, wrn-28-10 (default: inferred from tensor names)',
    )
    .option('--mean <r,g,b>', 'classifier input normalisation mean (default 0 per channel)')
    .option('--std <r,g,b>', 'classifier input normalisation std (default 1 per channel)')
    .option('--num-classes <n>', 'number of classes (default: from the final layer)', (v: string) => Number.parseInt(v, 10))
    .option(
      '--config <json|file>',
      'config fields overriding the inferred ones (UNetConfig, or classifier extras such as {"inputShape":[32,32,3]})',
    )
    .option('--preset <name>', `UNet preset the inferred config starts from: ${Object.keys(UNET_PRESETS).join(', ')}`, 'ddpm-cifar10')
    .option(
      '--key <path>',
      'dotted key of the state dict inside the checkpoint (default: searched under state_dict/model_state_dict/net/model/ema)',
    )
    .option('--allow-unexpected', 'ignore tensors the architecture does not have')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        input: string,
        output: string,
        opts: {
          arch?: string;
          mean?: string;
          std?: string;
          numClasses?: number;
          config?: string;
          preset: string;
          key?: string;
          allowUnexpected?: boolean;
          json?: boolean;
        },
      ) => {
        const ctx = context();
        await ctx.backend();
        if (!(opts.preset in UNET_PRESETS))
          throw new ConfigValidationError('--preset', [`'${opts.preset}': expected one of ${Object.keys(UNET_PRESETS).join(', ')}`]);
        if (opts.numClasses !== undefined && !(opts.numClasses > 0))
          throw new ConfigValidationError('--num-classes', ['expected a positive integer']);
        const r = convertWeights(input, {
          arch: opts.arch as ArchId | undefined,
          mean: opts.mean ? parseNumberList('--mean', opts.mean) : undefined,
          std: opts.std ? parseNumberList('--std', opts.std) : undefined,
          numClasses: opts.numClasses,
          config: opts.config ? parseConfig(opts.config) : undefined,
          preset: opts.preset as UNetPreset,
          key: opts.key,
          allowUnexpected: opts.allowUnexpected,
        });
        try {
          const source = {
            file: path.basename(input),
            sha256: await sha256File(input),
            format: r.format,
            stateDict: r.statePath,
            strippedPrefix: r.strippedPrefix,
          };
          saveModel(output, r.model, { source });
          for (const w of r.warnings) ctx.logger.warn(`weights convert: ${w}`);
          const summary = {
            output,
            arch: r.arch,
            parameters: r.model.parameterCount(),
            tensors: r.report.loaded,
            ignored: r.report.ignored,
            config: r.model.config,
            source,
            warnings: r.warnings,
          };
          if (opts.json) ctx.out(JSON.stringify(summary, null, 2));
          else {
            ctx.out(
              `wrote ${output}: ${r.arch}, ${summary.parameters} parameters (${formatCount(summary.parameters)}), ${summary.tensors} tensors from ${source.format} checkpoint ${input} [state dict: ${r.statePath}${r.strippedPrefix ? `, removed prefix '${r.strippedPrefix}'` : ''}]`,
            );
            const ignored = r.report.ignored.filter((n) => !n.endsWith('num_batches_tracked'));
            if (ignored.length) ctx.out(`ignored: ${ignored.join(', ')}`);
            ctx.out(`config: ${JSON.stringify(r.model.config)}`);
          }
        } finally {
          r.model.dispose();
        }
      },
    );

  weights
    .command('inspect <file>')
    .description('list the tensors (name, dtype, shape), parameter count and metadata of a .safetensors or PyTorch file')
    .option('--key <path>', 'dotted key of the state dict inside a PyTorch checkpoint')
    .option('--json', 'print JSON')
    .action((file: string, opts: { key?: string; json?: boolean }) => {
      const ctx = context();
      const r = readWeightsFile(file, opts.key);
      const rows = [...r.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, numel: t.shape.reduce((a, b) => a * b, 1) }));
      const floats = rows.filter((x) => x.dtype.startsWith('F') || x.dtype === 'BF16');
      const parameters = floats.filter((x) => !/running_(mean|var)$/.test(x.name)).reduce((a, x) => a + x.numel, 0);
      const info = {
        file,
        format: r.format,
        stateDict: r.path,
        strippedPrefix: r.strippedPrefix,
        tensors: rows.length,
        parameters,
        elements: rows.reduce((a, x) => a + x.numel, 0),
        dtypes: [...new Set(rows.map((x) => x.dtype))],
        metadata: r.metadata ?? {},
      };
      if (opts.json) {
        ctx.out(JSON.stringify({ ...info, list: rows }, null, 2));
        return;
      }
      ctx.out(
        formatTable(
          ['tensor', 'dtype', 'shape', 'numel'],
          rows.map((x) => [x.name, x.dtype, `[${x.shape.join(', ')}]`, x.numel]),
        ),
      );
      ctx.out('');
      ctx.out(
        `format: ${info.format}; state dict: ${info.stateDict}${info.strippedPrefix ? ` (prefix '${info.strippedPrefix}' removed)` : ''}`,
      );
      ctx.out(
        `tensors: ${info.tensors}; dtypes: ${info.dtypes.join(', ')}; parameters: ${parameters} (${formatCount(parameters)}; float tensors without batch-norm running statistics); elements: ${info.elements}`,
      );
      for (const [k, v] of Object.entries(info.metadata)) ctx.out(`metadata ${k}: ${v}`);
    });
};
