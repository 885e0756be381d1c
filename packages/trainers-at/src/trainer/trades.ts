import { classifierTrainer } from '../classifier-trainers';

/** Trainer `trades`: Zhang et al. 2019, CE(f(x), y) + beta KL(f(x) || f(x_adv)) (the reference code's step 0.007). */
export default classifierTrainer({
  id: 'trades',
  description: 'TRADES adversarial training: CE + beta * KL(f(x) || f(x_adv)).',
  attack: { norm: 'linf', eps: 8 / 255, stepSize: 0.007, steps: 10, randomStart: true },
  attackDescription: 'Inner maximisation: PGD-k in [0,1] pixel units.',
  evalPgd: true,
});
