import type { BenchSuite } from './types';

export const modelsBench: BenchSuite = {
  name: 'models',
  async run() {
    return [];
  },
};
