import { classifierTrainer } from '../classifier-trainers';

/** Trainer `standard`: cross-entropy training of a classifier; `attack` only serves the optional PGD evaluation. */
export default classifierTrainer({
  id: 'standard',
  description: 'Standard training of a classifier (cross-entropy), with crop/flip augmentation and held-out evaluation.',
  attack: { norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 10, randomStart: true },
  attackDescription: 'Unused by standard training (the attack of the optional PGD evaluation).',
  evalPgd: false,
});
