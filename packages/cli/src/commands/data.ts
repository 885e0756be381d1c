import type { AddCommand } from './types';

/** Commands of the datasets work (see docs). */
export const addDataCommand: AddCommand = (program) => {
  void program;
};
