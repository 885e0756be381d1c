import { describeClassifierArchitecture } from './classifier-fixture';

describeClassifierArchitecture({
  arch: 'resnet20',
  defaults: { numClasses: 10, inputShape: [32, 32, 3], mean: [0, 0, 0], std: [1, 1, 1] },
  tiny: { inputShape: [8, 8, 3], extras: { width: 4, blocksPerStage: 1 } },
  names: ['conv1.weight', 'bn1.running_mean', 'layer1.0.conv1.weight', 'layer3.0.bn2.weight', 'linear.weight'],
});
