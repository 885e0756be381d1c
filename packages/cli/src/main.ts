/** The `dbp-bench` command line. */
import { Command, Option } from 'commander';
import { BACKEND_PREFERENCES, FRAMEWORK_VERSION } from '@dbp-bench/framework';
import { CliContext, type GlobalOptions } from './context';
import { COMMANDS } from './commands';

export function buildProgram(): { program: Command; result: { code: number } } {
  const result = { code: 0 };
  const program = new Command('dbp-bench')
    .description('Benchmark adversarial robustness of image classifiers and diffusion-based purification defenses.')
    .version(FRAMEWORK_VERSION)
    .addOption(
      new Option('--backend <name>', 'tensor backend (default: DBP_BACKEND or auto = tfjs-node-gpu, tfjs-node, wasm, cpu)').choices([
        ...BACKEND_PREFERENCES,
      ]),
    )
    .option('--plugin <module>', 'load a plugin module (package name or path); repeatable', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error', 'silent']))
    .showHelpAfterError()
    .enablePositionalOptions(false);
  let ctx: CliContext | undefined;
  const context = (): CliContext => (ctx ??= new CliContext(program.opts<GlobalOptions>()));
  for (const add of COMMANDS) add(program, context, result);
  return { program, result };
}

export async function main(argv: string[]): Promise<number> {
  const { program, result } = buildProgram();
  await program.parseAsync(argv);
  return result.code;
}
