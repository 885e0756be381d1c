import type { AddCommand } from './types';

/** Commands of the models work (see docs). */
export const addWeightsCommand: AddCommand = (program) => {
  void program;
};
