import type { AddCommand } from './types';

/** Commands of the framework work (see docs). */
export const addBenchCommand: AddCommand = (program) => {
  void program;
};
