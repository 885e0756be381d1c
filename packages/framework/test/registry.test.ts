import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DuplicatePluginError,
  PluginLoadError,
  PluginRegistry,
  UnknownPluginError,
  toyDefense,
  toyPluginRegistry,
  validateSchema,
} from '../src';

const defense = toyDefense;
const registryWithPlugins = toyPluginRegistry;

describe('PluginRegistry', () => {
  it('lists plugins with kind, id, package and description', () => {
    const list = registryWithPlugins().list();
    expect(list.map((p) => `${p.kind}/${p.id}@${p.package}`)).to.deep.equal(['dataset/toy@pkg-b', 'defense/alpha@pkg-a', 'defense/beta@pkg-a', 'attack/pgd@pkg-b']);
  });

  it('throws on a duplicate id, naming both packages', () => {
    const r = registryWithPlugins();
    expect(() => r.use({ name: 'pkg-c', register: (reg) => reg.add(defense('alpha')) }))
      .to.throw(DuplicatePluginError, /'alpha' is already registered by pkg-a; pkg-c/);
  });

  it('an unknown id lists the registered ones', () => {
    expect(() => registryWithPlugins().get('defense', 'gamma')).to.throw(UnknownPluginError, /unknown defense 'gamma'. Registered defenses: alpha, beta/);
  });

  it('creates plugins in a per-run scope with validated, defaulted, frozen options', async () => {
    const r = registryWithPlugins();
    const a = r.createScope({ baseDir: path.join(os.tmpdir(), 'run-a') });
    const b = r.createScope();
    expect(a.resolvePath('w.safetensors')).to.equal(path.join(os.tmpdir(), 'run-a', 'w.safetensors'));
    expect(b.resolvePath('w.safetensors')).to.equal(path.resolve('w.safetensors'));
    expect(a.registry).to.equal(r);
    const made = await a.create<{ options: { strength: number; steps: number } }>('defense', 'alpha', { steps: 3 });
    expect(made.options).to.deep.equal({ strength: 0.1, steps: 3 });
    expect(Object.isFrozen(made.options)).to.equal(true);
    await a.create('defense', 'alpha', { strength: 2 }).then(
      () => expect.fail('should throw'),
      (e: Error) => expect(e.message).to.match(/options of defense 'alpha' is invalid:[\s\S]*\$\.strength: must be <= 1/),
    );
  });

  it('loads a plugin module from a path and rejects modules without register()', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-plugin-'));
    fs.writeFileSync(
      path.join(dir, 'good.js'),
      `exports.register = (r) => r.add({ kind: 'defense', id: 'from-file', description: 'd', schema: { type: 'object' }, create: () => ({}) });`,
    );
    fs.writeFileSync(path.join(dir, 'bad.js'), 'exports.nothing = 1;');
    const r = new PluginRegistry();
    r.load('./good.js', dir);
    r.load('./good.js', dir); // loading twice is a no-op, not a duplicate
    expect(r.has('defense', 'from-file')).to.equal(true);
    expect(() => r.load('./bad.js', dir)).to.throw(PluginLoadError, /exports no register\(registry\) function/);
    expect(() => r.load('./missing.js', dir)).to.throw(PluginLoadError, /no file or directory/);
    expect(() => r.load('no-such-package-dbp', dir)).to.throw(PluginLoadError, /module not found/);
  });
});

describe('validateSchema', () => {
  it('validateSchema does not modify its input', () => {
    const input = { a: 1 };
    const out = validateSchema<{ a: number; b: number }>({ type: 'object', properties: { a: { type: 'number' }, b: { type: 'number', default: 2 } } }, input, 'x');
    expect(out).to.deep.equal({ a: 1, b: 2 });
    expect(input).to.deep.equal({ a: 1 });
  });
});
