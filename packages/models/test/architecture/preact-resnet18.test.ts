import { describeClassifierArchitecture } from './classifier-fixture';

describeClassifierArchitecture({
  arch: 'preact-resnet18',
  defaults: { numClasses: 10, inputShape: [32, 32, 3], mean: [0, 0, 0], std: [1, 1, 1] },
  tiny: { numClasses: 5, inputShape: [8, 8, 3], extras: { width: 4, blocksPerStage: [1, 1, 1, 1] } },
  names: ['conv1.weight', 'layer1.0.bn1.weight', 'layer4.0.conv2.weight', 'linear.weight'],
});
