/**
 * The run config (config.ts): composed from the registered plugin schemas, defaults filled, frozen,
 * hashed; every error with its JSON path; unsafe path segments refused before anything runs.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError, DataFormatError, toyPluginRegistry } from '@dbp-bench/framework';
import { entryPath } from '@dbp-bench/leaderboard';
import { loadRunConfig, runBenchmark, runThreat } from '../src';
import { toyConfig, toyDeps, toyRegistry } from './toys';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-config-'));
}

const registryWithPlugins = toyPluginRegistry;

describe('run config validation', () => {
  const good = {
    name: 'toy-run',
    dataset: { id: 'toy', subset: { kind: 'first', n: 16 } },
    classifier: { weights: 'weights/c.safetensors' },
    defense: { id: 'alpha', options: { strength: 0.2 } },
    attacks: [{ id: 'pgd', options: { steps: 5 } }],
  };

  it('fills defaults from the plugin schemas and freezes the result', () => {
    const { config, hash } = loadRunConfig(registryWithPlugins(), good);
    expect(config.defense.options).to.deep.equal({ strength: 0.2, steps: 10 });
    expect(config.attacks[0].options).to.deep.equal({ eps: 0.03, steps: 5 });
    expect(config.dataset.options).to.deep.equal({ split: 'test' });
    expect(config.evaluation).to.deep.equal({ purifications: 1, batchSize: 8, sanityChecks: true });
    expect(config.seed).to.equal(0);
    expect(Object.isFrozen(config.attacks[0].options)).to.equal(true);
    expect(hash).to.match(/^[0-9a-f]{16}$/);
    expect(loadRunConfig(registryWithPlugins(), { ...good, description: 'other words' }).hash).to.equal(hash);
    expect(loadRunConfig(registryWithPlugins(), { ...good, seed: 1 }).hash).to.not.equal(hash);
  });

  it('reports every error with its JSON path', () => {
    const bad = {
      ...good,
      name: 'bad name!',
      defense: { id: 'gamma' },
      attacks: [{ id: 'pgd', options: { eps: -1, stepz: 3 } }],
      evaluation: { purifications: 0 },
    };
    try {
      loadRunConfig(registryWithPlugins(), bad);
      expect.fail('should throw');
    } catch (e) {
      expect(e).to.be.instanceOf(ConfigValidationError);
      const msg = (e as Error).message;
      expect(msg).to.include('$.name: must match pattern');
      expect(msg).to.match(/\$\.defense\.id: must be one of "alpha", "beta"/);
      expect(msg).to.include('$.attacks[0].options.eps: must be > 0');
      expect(msg).to.include('$.attacks[0].options.stepz: is not a known field');
      expect(msg).to.include('$.evaluation.purifications: must be >= 1');
    }
  });

  it('names the file for a missing file and for bad JSON', () => {
    const dir = tmp();
    const f = path.join(dir, 'broken.json');
    fs.writeFileSync(f, '{"name": ');
    expect(() => loadRunConfig(registryWithPlugins(), f)).to.throw(ConfigValidationError, /broken\.json is invalid:[\s\S]*not valid JSON/);
    expect(() => loadRunConfig(registryWithPlugins(), path.join(dir, 'none.json'))).to.throw(/none\.json not found/);
  });

  it('a run config with leaderboard.threatModel ".." or name ".." is refused before anything runs', async () => {
    const cfg = toyConfig() as { name: string; leaderboard: Record<string, unknown> };
    const bad = { ...cfg, name: '..', leaderboard: { ...cfg.leaderboard, threatModel: '..' } };
    expect(() => loadRunConfig(toyRegistry(), bad))
      .to.throw(ConfigValidationError)
      .that.satisfies(
        (e: ConfigValidationError) =>
          e.problems.some((p) => p.startsWith('$.name:')) && e.problems.some((p) => p.startsWith('$.leaderboard.threatModel:')),
      );
    const out = tmp();
    fs.writeFileSync(path.join(out, 'toy.safetensors'), '');
    const entries = path.join(out, 'entries');
    const deps = toyDeps();
    let err: unknown;
    try {
      await runBenchmark({
        registry: toyRegistry(),
        config: { ...cfg, leaderboard: { ...cfg.leaderboard, threatModel: '..' } },
        baseDir: out,
        outDir: out,
        deps,
        entriesDir: entries,
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect(String(err)).to.include('$.leaderboard.threatModel');
    expect(deps.loaded).to.equal(0);
    expect(fs.readdirSync(out)).to.deep.equal(['toy.safetensors']);
    // Where the runner derives the threat-model id, the same rule holds.
    expect(() => runThreat([], '..')).to.throw(DataFormatError, /leaderboard\.threatModel "\.\." is not a safe path segment/);
    expect(runThreat([], 'clean').id).to.equal('clean');
    expect(() =>
      entryPath(entries, { id: 'x', dataset: { id: 'cifar10', n: null }, threatModel: { id: '..', norm: 'none', eps: null } }),
    ).to.throw(ConfigValidationError, '$.threatModel.id');
  });
});
