import type { BenchSuite } from './types';
import { frameworkBench } from './framework';
import { modelsBench } from './models';
import { defensesBench } from './defenses';
import { profileBench } from './profile';
import { eotBench } from './eot';

export const BENCH_SUITES: BenchSuite[] = [frameworkBench, modelsBench, defensesBench, eotBench, profileBench];
export * from './types';
export * from './reference';
export { kernelFlops, kernelShares } from './profile';
