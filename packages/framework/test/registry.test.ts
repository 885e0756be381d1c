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
    expect(list.map((p) => `${p.kind}/${p.id}@${p.package}`)).to.deep.equal([
      'dataset/toy@pkg-b',
      'defense/alpha@pkg-a',
      'defense/beta@pkg-a',
      'attack/pgd@pkg-b',
    ]);
  });

  it('throws on a duplicate id, naming both packages', () => {
    const r = registryWithPlugins();
    expect(() => r.use({ name: 'pkg-c', register: (reg) => reg.add(defense('alpha')) })).to.throw(
      DuplicatePluginError,
      /'alpha' is already registered by pkg-a; pkg-c/,
    );
  });

  it('an unknown id lists the registered ones', () => {
    expect(() => registryWithPlugins().get('defense', 'gamma')).to.throw(
      UnknownPluginError,
      /unknown defense 'gamma'. Registered defenses: alpha, beta/,
    );
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

describe('registry: the file each plugin comes from', () => {
  it('records the module exporting the definition (default export first, not an index re-exporting it), dist mapped to src', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-plugin-file-'));
    const def = (id: string): string =>
      `{ kind: 'defense', id: '${id}', description: 'd', schema: { type: 'object' }, create: () => ({}) }`;
    // a package with a compiled dist/ beside its sources: dist/src/defense/a.js has src/defense/a.ts
    fs.mkdirSync(path.join(dir, 'dist', 'src', 'defense'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'src', 'defense'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src', 'defense', 'a.ts'), '// source of a');
    fs.writeFileSync(path.join(dir, 'dist', 'src', 'defense', 'a.js'), `exports.default = ${def('a')};`);
    // b is a named export whose compiled file has no source beside dist: the .js file is recorded
    fs.writeFileSync(path.join(dir, 'dist', 'src', 'defense', 'b.js'), `exports.bPlugin = ${def('b')};`);
    // the index re-exports b with a getter (as tsc compiles `export *`) and defines c inline in register()
    fs.writeFileSync(
      path.join(dir, 'dist', 'src', 'index.js'),
      `const a = require('./defense/a'); const b = require('./defense/b');
       Object.defineProperty(exports, 'bPlugin', { enumerable: true, get: () => b.bPlugin });
       exports.register = (r) => r.add(a.default).add(b.bPlugin).add(${def('c')});`,
    );
    const r = new PluginRegistry();
    r.load('./dist/src/index.js', dir);
    const real = (p: string): string => fs.realpathSync(p);
    expect(real(r.registration('defense', 'a').file!)).to.equal(real(path.join(dir, 'src', 'defense', 'a.ts')));
    expect(real(r.registration('defense', 'b').file!)).to.equal(real(path.join(dir, 'dist', 'src', 'defense', 'b.js')));
    // not found in any module's exports: the registering module
    expect(real(r.registration('defense', 'c').file!)).to.equal(real(path.join(dir, 'dist', 'src', 'index.js')));
    // a plugin added outside any module has no file
    expect(new PluginRegistry().add(defense('loose')).registration('defense', 'loose').file).to.equal(undefined);
  });
});

describe('validateSchema', () => {
  it('validateSchema does not modify its input', () => {
    const input = { a: 1 };
    const out = validateSchema<{ a: number; b: number }>(
      { type: 'object', properties: { a: { type: 'number' }, b: { type: 'number', default: 2 } } },
      input,
      'x',
    );
    expect(out).to.deep.equal({ a: 1, b: 2 });
    expect(input).to.deep.equal({ a: 1 });
  });
});
