import type { Command } from 'commander';
import type { CliContext } from '../context';

/** Each command file exports one of these: it adds its command(s) to the program. */
export type AddCommand = (program: Command, context: () => CliContext, result: { code: number }) => void;
