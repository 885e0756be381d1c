import type { AddCommand } from './types';

/** Commands of the runner work (see docs). */
export const addQuickstartCommand: AddCommand = (program) => {
  void program;
};
