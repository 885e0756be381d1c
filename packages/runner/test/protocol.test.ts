/**
 * Attacks declare their protocol (framework `AttackProtocol`, `Attack.protocol()`) and the runner reads
 * only the declaration: misleading option names change nothing, an attack without a declaration or
 * with a malformed one is refused before anything is computed, naming it, and each declared field has
 * its effect (noise policy and EoT in the randomized-defense check and the entry, gradient mode,
 * input-gradient requirement of the zero-gradient check). The built-in attacks' declarations validate.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as attacks from '@dbp-bench/attacks';
import {
  ConfigValidationError,
  IncompatiblePluginError,
  PluginRegistry,
  SanityCheckError,
  type Attack,
  type AttackProtocol,
  type Defense,
  type JsonSchema,
  rejection,
} from '@dbp-bench/framework';
import { ATTACK_PROTOCOL_SCHEMA, declaredProtocol, planAttack, readJournal, runBenchmark } from '../src';
import { ToyPgd, toyConfig, toyDeps, toyRegistry, type Policy } from './toys';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-protocol-'));
}

const BASE: Record<string, JsonSchema> = {
  eps: { type: 'number', default: 0.1 },
  steps: { type: 'integer', default: 3 },
  stepSize: { type: 'number', default: 0.05 },
};

/**
 * Sign PGD whose options have names the old inspection read with other meanings: `replicas` is its
 * EoT, while an unused `policy: 'both'` and a numeric `eot: 1` would have been taken for its policy
 * and EoT. It declares policy `fresh` and EoT `replicas`.
 */
class RenamedPgd extends ToyPgd {
  constructor(o: { eps: number; steps: number; stepSize: number; replicas: number }) {
    super({ eps: o.eps, steps: o.steps, stepSize: o.stepSize, eot: { samples: o.replicas }, policy: 'fresh', overshoot: 1 }, 'toy-renamed');
  }
}

/** Sign PGD with its declaration overridden field by field (`declare`). */
class DeclaredPgd extends ToyPgd {
  constructor(
    o: { eps: number; steps: number; stepSize: number; samples: number; policy: Policy },
    private readonly declare: Record<string, unknown>,
  ) {
    super(
      { eps: o.eps, steps: o.steps, stepSize: o.stepSize, eot: { samples: o.samples }, policy: o.policy, overshoot: 1 },
      'toy-declared',
    );
  }
  override protocol(): AttackProtocol {
    return { ...super.protocol(), ...this.declare } as AttackProtocol;
  }
}

function registry(): PluginRegistry {
  return toyRegistry().use({
    name: 'protocol-toys',
    register(reg) {
      reg.add({
        kind: 'attack',
        id: 'toy-renamed',
        description: 'options named unlike its protocol',
        schema: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...BASE,
            replicas: { type: 'integer', minimum: 1, default: 2 },
            policy: { enum: ['fresh', 'fwd', 'rev', 'both'], default: 'both' },
            eot: { type: 'number', default: 1 },
          },
        },
        create: (o: { eps: number; steps: number; stepSize: number; replicas: number }) => new RenamedPgd(o),
      });
      reg.add({
        kind: 'attack',
        id: 'toy-declared',
        description: 'declaration overridden by the test',
        schema: {
          type: 'object',
          additionalProperties: false,
          properties: {
            ...BASE,
            samples: { type: 'integer', default: 2 },
            policy: { enum: ['fresh', 'fwd', 'rev', 'both'], default: 'fresh' },
            declare: { type: 'object', default: {} },
          },
        },
        create: (o: { eps: number; steps: number; stepSize: number; samples: number; policy: Policy; declare: Record<string, unknown> }) =>
          new DeclaredPgd(o, o.declare),
      });
      // An attack written for the contract before protocol(): perturb and threat only.
      reg.add({
        kind: 'attack',
        id: 'toy-undeclared',
        description: 'no protocol()',
        schema: { type: 'object', additionalProperties: false, properties: { eot: { type: 'object', default: { samples: 4 } } } },
        create: () => ({
          id: 'toy-undeclared',
          threat: { norm: 'linf', eps: 0.1 },
          perturb: async (_t: unknown, x: tf.Tensor4D) => x.clone(),
        }),
      });
    },
  });
}

async function run(config: object, out: string) {
  fs.writeFileSync(path.join(out, 'toy.safetensors'), 'toy');
  return runBenchmark({ registry: registry(), config, baseDir: out, outDir: out, deps: toyDeps(), entriesDir: null });
}

/** No run computed anything: no journal with records in any run directory under `out`. */
function nothingJournaled(out: string): boolean {
  return fs.readdirSync(out).every((d) => {
    const j = path.join(out, d, 'journal.jsonl');
    return !fs.existsSync(j) || readJournal(j).records.length === 0;
  });
}

describe('runner: attacks declare their protocol', function () {
  this.timeout(120000);

  it('the declaration decides, not option names: policy fresh with EoT 2 recorded and accepted on a randomized defense', async () => {
    const r = await run(toyConfig({ n: 4, attacks: [{ id: 'toy-renamed', name: 'renamed', options: {} }] }), tmp());
    const [a] = r.entry!.protocol!.attacks;
    expect(a).to.deep.include({ noisePolicy: 'fresh', eot: 2, steps: 3, gradient: 'exact' });
    // The validated options are recorded as given, misleading names included.
    expect(a.options).to.deep.equal({ eps: 0.1, steps: 3, stepSize: 0.05, replicas: 2, policy: 'both', eot: 1 });
    expect(r.entry!.flags.randomized).to.equal(true);
  });

  it('an option named policy: "both" does not make EoT 1 acceptable on a randomized defense: the declared fresh policy is refused', async () => {
    const err = await rejection(
      run(toyConfig({ n: 4, attacks: [{ id: 'toy-renamed', name: 'renamed-1', options: { replicas: 1 } }] }), tmp()),
    );
    expect(err).to.be.instanceOf(SanityCheckError);
    expect((err as SanityCheckError).flag).to.equal('randomized-defense');
    expect(err.message).to.match(/attack 'renamed-1' \(toy-renamed\) uses EoT 1 with fresh noise/);
  });

  it('a declared DW-box policy is the target policy and the recorded one (EoT 1 accepted)', async () => {
    const r = await run(
      toyConfig({ n: 4, attacks: [{ id: 'toy-declared', name: 'dw', options: { samples: 1, declare: { policy: 'rev' } } }] }),
      tmp(),
    );
    expect(r.entry!.protocol!.attacks[0]).to.deep.include({ noisePolicy: 'rev', eot: 1 });
  });

  it('refuses an attack without protocol() before computing anything, naming it and the contract', async () => {
    const out = tmp();
    const err = await rejection(run(toyConfig({ n: 4, attacks: [{ id: 'toy-undeclared', name: 'legacy', options: {} }] }), out));
    expect(err).to.be.instanceOf(IncompatiblePluginError);
    expect(err.message).to.match(
      /attack 'legacy' \(toy-undeclared\) does not declare its protocol: the Attack contract requires protocol\(\)/,
    );
    expect(nothingJournaled(out)).to.equal(true);
  });

  it('refuses a malformed declaration with every bad field and its path, naming the attack', async () => {
    const out = tmp();
    const declare = { policy: 'keyed', eotSamples: 0, steps: 2.5, gradient: 'finite-differences', stepSize: -1, requires: {}, extra: true };
    const err = await rejection(run(toyConfig({ n: 4, attacks: [{ id: 'toy-declared', name: 'bad', options: { declare } }] }), out));
    expect(err).to.be.instanceOf(ConfigValidationError);
    expect(err.message).to.contain("protocol() of attack 'bad' (toy-declared) is invalid");
    const problems = (err as ConfigValidationError).problems.join('\n');
    for (const p of ['$.policy', '$.eotSamples', '$.steps', '$.gradient', '$.stepSize', '$.requires', '$.extra'])
      expect(problems).to.contain(p);
    expect(nothingJournaled(out)).to.equal(true);
  });

  it('a declared gradient mode is used and recorded; one the defense does not support is refused, naming attack and defense', async () => {
    const r = await run(
      toyConfig({ n: 4, attacks: [{ id: 'toy-declared', name: 'bpda', options: { declare: { gradient: 'bpda' } } }] }),
      tmp(),
    );
    expect(r.entry!.protocol!.attacks[0].gradient).to.equal('bpda');
    // BPDA is applied at the target, so every defense offers it; `exact` needs the defense's own gradient.
    const ok = await run(
      toyConfig({
        n: 4,
        defense: 'toy-round',
        R: 1,
        attacks: [{ id: 'toy-declared', name: 'bpda', options: { declare: { gradient: 'bpda' } } }],
      }),
      tmp(),
    );
    expect(ok.entry!.protocol!.attacks[0].gradient).to.equal('bpda');
    const err = await rejection(
      run(
        toyConfig({
          n: 4,
          defense: 'toy-quantize',
          R: 1,
          attacks: [{ id: 'toy-declared', name: 'exact', options: { declare: { gradient: 'exact' } } }],
        }),
        tmp(),
      ),
    );
    expect(err).to.be.instanceOf(IncompatiblePluginError);
    expect(err.message).to.equal(
      "attack 'exact' (toy-declared) declares gradient 'exact', which defense 'toy-quantize' does not support (a target on it offers: bpda)",
    );
  });

  it('the zero-gradient check covers exactly the attacks that declare they need input gradients', async () => {
    const attack = (inputGradients: boolean) => ({
      id: 'toy-declared',
      name: `grad-${inputGradients}`,
      options: { samples: 1, declare: { requires: { inputGradients } } },
    });
    const flagged = await run(toyConfig({ n: 4, defense: 'toy-round', R: 1, attacks: [attack(true)] }), tmp());
    expect(flagged.entry!.flags.sanity.map((f) => [f.id, f.attack])).to.deep.equal([['zero-gradient', 'grad-true']]);
    const skipped = await run(toyConfig({ n: 4, defense: 'toy-round', R: 1, attacks: [attack(false)] }), tmp());
    expect(skipped.entry!.flags.sanity).to.deep.equal([]);
  });

  it('planAttack: the gradient `target` becomes the defense default (exact, else its first mode); the step size is the declared one', () => {
    const attack = new ToyPgd({ eps: 0.1, steps: 2, stepSize: 0.03, eot: { samples: 1 }, policy: 'fwd', overshoot: 1 });
    const defense = (modes: ('exact' | 'bpda')[]): Defense => ({
      id: 'd',
      capabilities: { stochastic: false, streams: [], gradientModes: modes, networkCalls: 0 },
      purify: (x) => x,
    });
    expect(planAttack('a', 'toy', attack, {}, defense(['bpda', 'exact']))).to.deep.include({
      gradient: 'exact',
      policy: 'fwd',
      eot: 1,
      steps: 2,
      stepSize: 0.03,
      norm: 'linf',
      eps: 0.1,
    });
    expect(planAttack('a', 'toy', attack, {}, defense(['bpda'])).gradient).to.equal('bpda');
  });

  it("the built-in attacks' declarations (pgd, dw-box, apgd) validate and say what their options say", async () => {
    const scope = new PluginRegistry().use(attacks.plugin).createScope();
    const declared = async (id: string, options: object): Promise<AttackProtocol> =>
      declaredProtocol(id, id, await scope.create<Attack>('attack', id, options)) as AttackProtocol;
    expect(await declared('pgd', {})).to.deep.equal({
      policy: 'fresh',
      eotSamples: 10,
      steps: 20,
      restarts: 1,
      gradient: 'target',
      stepSize: 2 / 255,
      requires: { inputGradients: true },
    });
    expect(await declared('pgd', { norm: 'l2', steps: 7, restarts: 3, gradient: 'bpda', eot: { samples: 4 } })).to.deep.equal({
      policy: 'fresh',
      eotSamples: 4,
      steps: 7,
      restarts: 3,
      gradient: 'bpda',
      stepSize: 0.1,
      requires: { inputGradients: true },
    });
    expect(await declared('dw-box', {})).to.deep.include({ policy: 'both', eotSamples: 1, steps: 20, stepSize: 2 / 255 });
    expect(await declared('dw-box', { policy: 'fwd', eot: { samples: 3 }, stepSize: 0.01 })).to.deep.include({
      policy: 'fwd',
      eotSamples: 3,
      stepSize: 0.01,
    });
    expect(await declared('apgd', {})).to.deep.equal({
      policy: 'fresh',
      eotSamples: 20,
      steps: 100,
      restarts: 1,
      runs: 2,
      gradient: 'target',
      stepSize: null,
      requires: { inputGradients: true },
    });
    expect(await declared('apgd', { restarts: 2, gradient: 'exact' })).to.deep.include({ restarts: 2, runs: 4, gradient: 'exact' });
    // one run per loss and restart (default losses: ce, dlr)
    expect(await declared('apgd', { restarts: 3, losses: ['dlr'] })).to.deep.include({ restarts: 3, runs: 3 });
    expect(Object.keys((ATTACK_PROTOCOL_SCHEMA as { properties: object }).properties).sort()).to.deep.equal([
      'eotSamples',
      'gradient',
      'policy',
      'requires',
      'restarts',
      'runs',
      'stepSize',
      'steps',
    ]);
  });
});
