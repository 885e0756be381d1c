import { expect } from 'chai';
import { PluginRegistry, ConfigValidationError } from '@dbp-bench/framework';
import { CLASSIFIER_ARCHS, plugin, UNet, type ClassifierModel } from '../src';

describe('architecture plugins', () => {
  it('registers unet and every classifier arch; create() builds them from validated options', async () => {
    const r = new PluginRegistry().use(plugin);
    const ids = r.list('architecture').map((p) => p.id);
    expect(ids).to.have.members(['unet', 'small-cnn', 'resnet20', 'resnet56', 'preact-resnet18', 'wrn-28-10']);
    // a new classifier arch needs its file src/architecture/<arch>.ts in the registration list
    expect(ids).to.include.members([...CLASSIFIER_ARCHS]);
    const scope = r.createScope({});
    const u = await scope.create<UNet>('architecture', 'unet', { preset: 'tiny' });
    expect(u).to.be.instanceOf(UNet);
    expect(u.config.blockOutChannels).to.deep.equal([16, 32]);
    u.dispose();
    const c = await scope.create<ClassifierModel>('architecture', 'resnet20', {
      extras: { width: 4, blocksPerStage: 1 },
      inputShape: [8, 8, 3],
    });
    expect(c.arch).to.equal('resnet20');
    expect(c.config.mean).to.deep.equal([0, 0, 0]);
    c.dispose();
    let err: unknown;
    await scope.create('architecture', 'resnet20', { widht: 3 }).catch((e) => (err = e));
    expect(err).to.be.instanceOf(ConfigValidationError);
  });
});
