import { classifierArchitecture } from '../classifier-plugin';

/** Architecture `resnet20` (see classifiers.ts and the README). */
export default classifierArchitecture('resnet20');
