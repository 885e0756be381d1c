import type { AddCommand } from './types';

/** Commands of the attacks work (see docs). */
export const addAnalyzeCommand: AddCommand = (program) => {
  void program;
};
