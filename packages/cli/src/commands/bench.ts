import { describeBackend } from '@dbp-bench/framework';
import { BENCH_SUITES, loadTorchReference, type BenchOptions, type BenchRow } from '../bench';
import { formatTable } from './plugins';
import type { AddCommand } from './types';

function mb(bytes: number | undefined): string {
  return bytes === undefined ? '' : `${(bytes / 2 ** 20).toFixed(0)} MB`;
}
function num(v: number | undefined, digits: number): string {
  return v === undefined || !Number.isFinite(v) ? '' : v.toFixed(digits);
}

/** The bench table: suite, name, seconds, GFLOP, GFLOP/s, peak tf.memory, RSS, note. */
export function formatBenchTable(rows: BenchRow[]): string {
  return formatTable(
    ['suite', 'name', 'seconds', 'GFLOP', 'GFLOP/s', 'peak tf.memory', 'RSS', 'note'],
    rows.map((r) => [
      r.suite,
      r.name,
      num(r.seconds, 4),
      num(r.gflops, 3),
      num(r.gflopsPerSecond, 1),
      mb(r.peakBytes),
      mb(r.rssBytes),
      r.note ?? '',
    ]),
  );
}

/** The wasm heap size, when the active backend is wasm (it grows and never shrinks: the real peak). */
function wasmHeapBytes(): number | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- only asked when a backend is already loaded
    const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
    if (tf.getBackend() !== 'wasm') return undefined;
    const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    return b.wasm?.HEAPU8?.buffer.byteLength;
  } catch {
    return undefined;
  }
}

/** `dbp-bench bench [--quick] [--filter s]`: throughput and memory of the active backend (not a test). */
export const addBenchCommand: AddCommand = (program, context, result) => {
  program
    .command('bench')
    .description(
      'measure forward and forward+backward GFLOP/s and peak memory on the active backend (suites: ' +
        BENCH_SUITES.map((s) => s.name).join(', ') +
        ')',
    )
    .option('--quick', 'fewer repetitions and smaller sizes', false)
    .option('--filter <s>', 'only suites whose name contains s')
    .option('--json', 'print the rows as JSON instead of a table')
    .option(
      '--reference <file>',
      'PyTorch CPU timings of this machine (JSON from python3 bench/torch_reference.py) for the ratios in the notes',
    )
    .option('--torch <python>', 'a python with torch: time PyTorch and the purification chains alternately (defenses suite, paired rounds)')
    .action(async (opts: { quick: boolean; filter?: string; json?: boolean; reference?: string; torch?: string }) => {
      const ctx = context();
      const reference = opts.reference ? loadTorchReference(opts.reference) : undefined;
      const info = await ctx.backend();
      const options: BenchOptions = { quick: !!opts.quick, filter: opts.filter, reference, torchPython: opts.torch };
      const suites = BENCH_SUITES.filter((s) => !opts.filter || s.name.includes(opts.filter));
      if (suites.length === 0) {
        ctx.logger.error(`bench: no suite name contains '${opts.filter}' (suites: ${BENCH_SUITES.map((s) => s.name).join(', ')})`);
        result.code = 2;
        return;
      }
      const rows: BenchRow[] = [];
      const failures: string[] = [];
      const bar = ctx.logger.progress('bench', suites.length);
      for (const suite of suites) {
        ctx.logger.info(`bench: running suite '${suite.name}'${options.quick ? ' (quick)' : ''}`);
        try {
          rows.push(...(await suite.run(options)));
        } catch (e) {
          failures.push(`${suite.name}: ${(e as Error).message}`);
          ctx.logger.error(`bench: suite '${suite.name}' failed: ${(e as Error).message}`);
        }
        bar.tick(1, suite.name);
      }
      bar.done();
      const heap = wasmHeapBytes();
      const backendLine =
        `backend: ${describeBackend(info)}` +
        (info.kernels?.length ? `; replacement kernels: ${info.kernels.join(', ')}` : '') +
        (heap !== undefined ? `; wasm heap ${mb(heap)}` : '');
      if (opts.json) ctx.out(JSON.stringify({ backend: info, rows, failures }, null, 2));
      else {
        ctx.out(backendLine);
        ctx.out(rows.length ? formatBenchTable(rows) : '(no rows)');
      }
      if (failures.length) result.code = 1;
    });
};
