import type { BenchSuite } from './types';

export const frameworkBench: BenchSuite = {
  name: 'framework',
  async run() {
    return [];
  },
};
