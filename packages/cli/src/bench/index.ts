import type { BenchSuite } from './types';
import { frameworkBench } from './framework';
import { modelsBench } from './models';
import { defensesBench } from './defenses';

export const BENCH_SUITES: BenchSuite[] = [frameworkBench, modelsBench, defensesBench];
export * from './types';
export * from './reference';
