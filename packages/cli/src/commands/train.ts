import type { AddCommand } from './types';

/** Commands of the trainers work (see docs). */
export const addTrainCommand: AddCommand = (program) => {
  void program;
};
