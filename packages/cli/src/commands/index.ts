/**
 * Every command of the CLI. Each file owns its commands; add a file and list it here.
 */
import type { AddCommand } from './types';
import { addPluginsCommand } from './plugins';
import { addValidateCommand } from './validate';

export const COMMANDS: AddCommand[] = [addPluginsCommand, addValidateCommand];
