/**
 * Ctrl-C and SIGTERM for long commands: the first signal asks the work to stop at the end of its
 * current unit (a batch, a training step) and keep what is done; the second abandons the unit and
 * exits at once with 130. Either way the command says what was kept and how to resume.
 */
import type { Logger } from '@dbp-bench/framework';

export interface StopSignals {
  /** True once a stop was asked for. */
  readonly requested: () => boolean;
  /** The signal that asked (for messages). */
  readonly signal: () => NodeJS.Signals | undefined;
}

/**
 * Run `work` with the handlers installed; `unit` names what finishes after the first signal and
 * `abandon` is printed before exiting on the second (what is kept, how to resume).
 */
export async function withStopSignals<T>(
  logger: Logger,
  what: { unit: string; abandon: () => string },
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
      `${signal}: stopping after the current ${what.unit}, keeping everything done so far (send it again to abandon the ${what.unit} now)`,
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
