import type { BenchSuite } from './types';

export const defensesBench: BenchSuite = {
  name: 'defenses',
  async run() {
    return [];
  },
};
