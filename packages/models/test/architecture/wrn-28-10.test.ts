import { describeClassifierArchitecture } from './classifier-fixture';

describeClassifierArchitecture({
  arch: 'wrn-28-10',
  defaults: { numClasses: 10, inputShape: [32, 32, 3], mean: [0, 0, 0], std: [1, 1, 1] },
  tiny: { inputShape: [8, 8, 3], extras: { depth: 10, widenFactor: 1 } },
  names: ['conv1.weight', 'block1.layer.0.bn1.running_var', 'block3.layer.0.convShortcut.weight', 'bn1.weight', 'fc.bias'],
});
