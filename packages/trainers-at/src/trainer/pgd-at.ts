import { classifierTrainer } from '../classifier-trainers';

/** Trainer `pgd-at`: Madry et al. 2018, the cross-entropy of PGD-k adversarial examples (PGD-10, 8/255, step 2/255). */
export default classifierTrainer({
  id: 'pgd-at',
  description: 'Madry PGD adversarial training (PGD-k inner maximisation, l_inf or l_2).',
  attack: { norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 10, randomStart: true },
  attackDescription: 'Inner maximisation: PGD-k in [0,1] pixel units.',
  evalPgd: true,
});
