import { describeClassifierArchitecture } from './classifier-fixture';

describeClassifierArchitecture({
  arch: 'resnet56',
  defaults: { numClasses: 10, inputShape: [32, 32, 3], mean: [0, 0, 0], std: [1, 1, 1] },
  tiny: { numClasses: 7, inputShape: [8, 8, 3], extras: { width: 4, blocksPerStage: 2 } },
  names: ['conv1.weight', 'layer1.1.conv2.weight', 'layer3.1.bn2.running_var', 'linear.bias'],
});
