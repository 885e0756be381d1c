import { expect } from 'chai';
import { canTrainConvs, defaults, expectRefused, trainOneStep } from './fixture';

describe('trainer trades', function () {
  this.timeout(120000);

  it("has the TRADES defaults: beta 6, PGD-10 l_inf 8/255 with the reference code's step 0.007", () => {
    const o = defaults('trades');
    expect(o.beta).to.equal(6);
    expect(o.attack).to.deep.equal({ norm: 'linf', eps: 8 / 255, stepSize: 0.007, steps: 10, randomStart: true });
    expect(o.eval.pgd).to.equal(true);
  });

  it('rejects a bad option naming the plugin and the field, and an inner maximisation without steps', async () => {
    await expectRefused('trades', { attack: { stepSize: 0 } }, /\$\.attack\.stepSize: must be > 0/);
    await expectRefused('trades', { attack: { steps: 0 } }, /\$\.attack\.steps: adversarial training needs at least 1 step/);
  });

  it('the KL term counts: one step with beta 6 has a larger loss than with beta 0 from the same start', async function () {
    if (!canTrainConvs()) this.skip();
    const withKl = await trainOneStep('trades');
    const ceOnly = await trainOneStep('trades', { beta: 0 });
    expect(withKl.finalLoss).to.be.greaterThan(ceOnly.finalLoss);
  });
});
