import type { AddCommand } from './types';

/** Commands of the defenses work (see docs). */
export const addPurifyCommand: AddCommand = (program) => {
  void program;
};
