import { classifierArchitecture } from '../classifier-plugin';

/** Architecture `resnet56` (see classifiers.ts and the README). */
export default classifierArchitecture('resnet56');
