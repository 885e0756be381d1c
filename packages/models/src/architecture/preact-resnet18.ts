import { classifierArchitecture } from '../classifier-plugin';

/** Architecture `preact-resnet18` (see classifiers.ts and the README). */
export default classifierArchitecture('preact-resnet18');
