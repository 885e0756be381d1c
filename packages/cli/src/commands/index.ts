/**
 * Every command of the CLI. Each file owns its commands; add a file and list it here.
 */
import type { AddCommand } from './types';
import { addPluginsCommand } from './plugins';
import { addValidateCommand } from './validate';
import { addDataCommand } from './data';
import { addWeightsCommand } from './weights';
import { addEvalCommand } from './evaluate';
import { addPurifyCommand } from './purify';
import { addAnalyzeCommand } from './analyze';
import { addTrainCommand } from './train';
import { addRunCommand } from './run';
import { addLeaderboardCommand } from './leaderboard';
import { addQuickstartCommand } from './quickstart';
import { addBenchCommand } from './bench';
import { addInitPluginCommand } from './init-plugin';
import { addExportCommands } from './export';

export const COMMANDS: AddCommand[] = [
  addQuickstartCommand,
  addRunCommand,
  addExportCommands,
  addValidateCommand,
  addPluginsCommand,
  addInitPluginCommand,
  addDataCommand,
  addWeightsCommand,
  addEvalCommand,
  addPurifyCommand,
  addTrainCommand,
  addAnalyzeCommand,
  addLeaderboardCommand,
  addBenchCommand,
];
