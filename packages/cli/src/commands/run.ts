import type { AddCommand } from './types';

/** Commands of the runner work (see docs). */
export const addRunCommand: AddCommand = (program) => {
  void program;
};
