import { expect } from 'chai';
import { ConfigValidationError, PluginRegistry, UnknownPluginError } from '@dbp-bench/framework';
import { plugin, register } from '../src';
import { ApgdAttack } from '../src/attack/apgd';
import { DwBoxAttack } from '../src/attack/dw-box';
import { PgdAttack } from '../src/attack/pgd';

describe('@dbp-bench/attacks plugins', () => {
  const registry = new PluginRegistry().use(plugin);

  it('registers pgd, dw-box, apgd, diffhammer and autoattack-rand as attacks', () => {
    expect(registry.ids('attack')).to.deep.equal(['apgd', 'autoattack-rand', 'diffhammer', 'dw-box', 'pgd']);
    expect(registry.list('attack').every((p) => p.package === '@dbp-bench/attacks')).to.equal(true);
    expect(() => register(registry)).to.throw(/already registered/);
    expect(() => registry.get('attack', 'eot')).to.throw(UnknownPluginError);
  });

  it('every schema is a closed object with a default for each option', () => {
    for (const p of registry.list('attack')) {
      expect(p.schema.type).to.equal('object');
      expect(p.schema.additionalProperties).to.equal(false);
      for (const [name, prop] of Object.entries(p.schema.properties as Record<string, Record<string, unknown>>)) {
        expect(prop, `${p.id}.${name}`).to.have.property('default');
      }
    }
  });

  it('creates attacks with schema defaults through a run scope', async () => {
    const scope = registry.createScope();
    const pgd = await scope.create<PgdAttack>('attack', 'pgd', {});
    expect(pgd).to.be.instanceOf(PgdAttack);
    expect(pgd.options.eot).to.deep.equal({ samples: 10, microBatch: 16 });
    const dw = await scope.create<DwBoxAttack>('attack', 'dw-box', { policy: 'fwd', norm: 'l2' });
    expect(dw).to.be.instanceOf(DwBoxAttack);
    expect(dw.policy).to.equal('fwd');
    expect(dw.threat).to.deep.equal({ norm: 'l2', eps: 0.5 });
    expect(dw.stepSize).to.equal(0.1);
    const apgd = await scope.create<ApgdAttack>('attack', 'apgd', { eot: { samples: 5 } });
    expect(apgd.options.eot).to.deep.equal({ samples: 5, microBatch: 16 });
    try {
      await scope.create('attack', 'pgd', { steps: 'many' });
      expect.fail('accepted steps: "many"');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigValidationError);
      expect((e as Error).message).to.match(/attack 'pgd'.*\$\.steps/s);
    }
  });
});
