import { expect } from 'chai';
import { canTrainConvs, defaults, expectRefused, trainOneStep } from './fixture';

describe('trainer pgd-at', function () {
  this.timeout(120000);

  it('has the Madry defaults: PGD-10 l_inf 8/255 with step 2/255 and a random start; PGD evaluation on', () => {
    const o = defaults('pgd-at');
    expect(o.attack).to.deep.equal({ norm: 'linf', eps: 8 / 255, stepSize: 2 / 255, steps: 10, randomStart: true });
    expect(o.eval.pgd).to.equal(true);
  });

  it('rejects a bad option naming the plugin and the field, and an inner maximisation without steps', async () => {
    await expectRefused('pgd-at', { attack: { norm: 'l1' } }, /\$\.attack\.norm: must be one of "linf", "l2"/);
    await expectRefused('pgd-at', { attack: { steps: 0 } }, /\$\.attack\.steps: adversarial training needs at least 1 step/);
  });

  it('trains one step on PGD examples and writes loadable weights', async function () {
    if (!canTrainConvs()) this.skip();
    await trainOneStep('pgd-at');
  });
});
