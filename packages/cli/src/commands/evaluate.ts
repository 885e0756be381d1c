import type { AddCommand } from './types';

/** Commands of the models work (see docs). */
export const addEvalCommand: AddCommand = (program) => {
  void program;
};
