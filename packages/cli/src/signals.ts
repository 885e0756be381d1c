/**
 * Ctrl-C and SIGTERM for long commands: the first signal asks the work to stop at the end of its
 * current unit (a batch, a training step) and keep what is done; the second abandons the unit and
 * exits at once with 130. Either way the command says what was kept and how to resume.
 */
import type { Command } from 'commander';
import type { Logger } from '@dbp-bench/framework';

export interface StopSignals {
  /** True once a stop was asked for. */
  readonly requested: () => boolean;
  /** The signal that asked (for messages). */
  readonly signal: () => NodeJS.Signals | undefined;
}

/**
 * Run `work` with the handlers installed; `unit` names what finishes after the first signal, `keeps`
 * what happens then (default: everything done so far is kept) and `abandon` is printed before exiting
 * on the second (what is kept, how to resume).
 */
export async function withStopSignals<T>(
  logger: Logger,
  what: { unit: string; abandon: () => string; keeps?: string },
  work: (stop: StopSignals) => Promise<T>,
): Promise<T> {
  let got: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (got) {
      process.stderr.write(`\n${signal} again: abandoning the current ${what.unit}. ${what.abandon()}\n`);
      process.exit(130);
    }
    got = signal;
    logger.warn(
      `${signal}: stopping after the current ${what.unit}, ${what.keeps ?? 'keeping everything done so far'} (send it again to abandon the ${what.unit} now)`,
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work({ requested: () => got !== undefined, signal: () => got });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One word of a command line, quoted for a POSIX shell when it needs it. */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line `dbp-bench <args>` (args: the words after the program name, as typed) with the
 * long options in `set` changed: each one's old occurrences (`--flag v` or `--flag=v`) are dropped
 * and, unless its new value is null, `--flag value` appended; the switches in `add` (options without
 * a value) are appended when absent. For the "resume with" / "the rest" lines of interrupted commands.
 */
export function rerunCommand(
  args: readonly string[],
  set: Readonly<Record<string, string | null>> = {},
  add: readonly string[] = [],
): string {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const flag = Object.keys(set).find((f) => a === f || a.startsWith(`${f}=`));
    if (flag) {
      if (a === flag) i++; // its value
      continue;
    }
    out.push(a);
  }
  for (const [f, v] of Object.entries(set)) if (v !== null) out.push(f, v);
  for (const f of add) if (!out.includes(f)) out.push(f);
  return ['dbp-bench', ...out].map(shellWord).join(' ');
}

/** The words of the command line after the program name, as the program parsed them (for rerunCommand). */
export function typedArgs(program: Command): string[] {
  // commander keeps the argv it parsed as `rawArgs` (not in its typings): [node, script, ...words]
  const raw = (program as unknown as { rawArgs?: string[] }).rawArgs ?? [];
  return raw.slice(2);
}
