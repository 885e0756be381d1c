import { describeClassifierArchitecture } from './classifier-fixture';

describeClassifierArchitecture({
  arch: 'small-cnn',
  defaults: { numClasses: 10, inputShape: [28, 28, 1], mean: [0], std: [1] },
  tiny: { inputShape: [16, 16, 1], mean: [0.1307], std: [0.3081], extras: { channels: [4, 8], hidden: 16 } },
  names: ['feature_extractor.conv1.weight', 'classifier.fc3.bias'],
});
