import type { AddCommand } from './types';

/** Commands of the runner work (see docs). */
export const addLeaderboardCommand: AddCommand = (program) => {
  void program;
};
