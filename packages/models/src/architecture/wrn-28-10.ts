import { classifierArchitecture } from '../classifier-plugin';

/** Architecture `wrn-28-10` (see classifiers.ts and the README). */
export default classifierArchitecture('wrn-28-10');
