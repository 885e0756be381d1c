import { classifierArchitecture } from '../classifier-plugin';

/** Architecture `small-cnn` (see classifiers.ts and the README). */
export default classifierArchitecture('small-cnn');
