// Shared by the ddpm / addt test files: a registry with a small test dataset and the trainers.
import { expect } from 'chai';
import { ConfigValidationError, PluginRegistry } from '@dbp-bench/framework';
import { plugin as atPlugin } from '@dbp-bench/trainers-at';
import { plugin } from '../../src';
import { blobs } from '../helpers';

export function trainerRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  r.use({ name: 'test', register: (x) => x.add(blobs) });
  r.use(atPlugin);
  return r.use(plugin);
}

/** Expect create(id, options) to be refused with a ConfigValidationError naming the trainer and `field`. */
export async function expectRefused(id: string, options: Record<string, unknown>, field: RegExp): Promise<void> {
  const err = await trainerRegistry()
    .createScope()
    .create('trainer', id, { dataset: { id: 'blobs' }, ...options })
    .then(
      () => undefined,
      (e: Error) => e,
    );
  expect(err, JSON.stringify(options)).to.be.instanceOf(ConfigValidationError);
  expect(err!.message).to.match(new RegExp(`options of trainer '${id}'[\\s\\S]*${field.source}`));
}
