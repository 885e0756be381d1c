/**
 * definePlugin: option types come from the schema (checked by the compiler: each `Expect<Equal<..>>`
 * line fails the build when the derived type is wrong), and pluginOptions fills the schema's defaults.
 */
import { expect } from 'chai';
import { ConfigValidationError, definePlugin, pluginOptions, pluginOptionsWithout, type FromSchema, type OptionsOf } from '../src';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['weights'],
  properties: {
    weights: { type: 'string', minLength: 1, 'x-dbp-file': true },
    strength: { type: 'number', default: 0.1 },
    steps: { type: 'integer', default: 3 },
    variance: { enum: ['fixed_large', 'fixed_small'], default: 'fixed_large' },
    dir: { type: ['string', 'null'], default: null },
    sizes: { type: 'array', items: { type: 'integer' }, default: [1, 2] },
    clip: { type: 'boolean' },
    extras: { type: 'object', default: {} },
  },
} as const;

export type Checks = [
  Expect<Equal<FromSchema<{ type: 'string' }>, string>>,
  Expect<Equal<FromSchema<{ enum: readonly [1, 3] }>, 1 | 3>>,
  Expect<Equal<FromSchema<{ type: readonly ['string', 'null'] }>, string | null>>,
  Expect<Equal<FromSchema<{ type: 'array'; items: { type: 'number' } }>, number[]>>,
  Expect<
    Equal<
      FromSchema<typeof schema>,
      {
        weights: string;
        strength: number;
        steps: number;
        variance: 'fixed_large' | 'fixed_small';
        dir: string | null;
        sizes: number[];
        extras: Record<string, unknown>;
        clip?: boolean;
      }
    >
  >,
];

describe('definePlugin / pluginOptions', () => {
  const def = definePlugin({
    kind: 'defense',
    id: 'typed',
    description: 'typed options',
    schema,
    create: (o) => {
      // Compile-time: o.strength is a number, o.variance a union of the enum, o.clip optional.
      const s: number = o.strength;
      const v: 'fixed_large' | 'fixed_small' = o.variance;
      const c: boolean | undefined = o.clip;
      return { s, v, c, weights: o.weights };
    },
  });
  type O = OptionsOf<typeof def.schema>;
  const _typed: Expect<Equal<O['steps'], number>> = true;

  it('fills defaults from the one schema and validates with the plugin named', async () => {
    expect(_typed).to.equal(true);
    const o = pluginOptions(def, { weights: 'w.safetensors', steps: 7 });
    expect(o).to.deep.equal({
      weights: 'w.safetensors',
      strength: 0.1,
      steps: 7,
      variance: 'fixed_large',
      dir: null,
      sizes: [1, 2],
      extras: {},
    });
    expect(Object.isFrozen(o)).to.equal(true);
    expect(await def.create(o, undefined as never)).to.deep.equal({ s: 0.1, v: 'fixed_large', c: undefined, weights: 'w.safetensors' });
    expect(() => pluginOptions(def, { steps: 1.5 })).to.throw(
      ConfigValidationError,
      /options of defense 'typed'[\s\S]*\$\.weights: is required[\s\S]*\$\.steps: must be integer/,
    );
  });

  it('pluginOptionsWithout: the options without some properties (no longer required, and refused when given), defaults filled', () => {
    const o = pluginOptionsWithout(def, ['weights'], { steps: 2 });
    // compile-time: weights is gone from the type
    const _noWeights: Expect<Equal<'weights' extends keyof typeof o ? true : false, false>> = true;
    expect(_noWeights).to.equal(true);
    expect(o).to.deep.equal({ strength: 0.1, steps: 2, variance: 'fixed_large', dir: null, sizes: [1, 2], extras: {} });
    expect(() => pluginOptionsWithout(def, ['weights'], { weights: 'w' })).to.throw(
      ConfigValidationError,
      /options of defense 'typed'[\s\S]*\$\.weights: is not a known field/,
    );
    // the plugin's own schema is unchanged
    expect(def.schema.required).to.deep.equal(['weights']);
    expect(Object.keys(def.schema.properties)).to.include('weights');
  });

  it('returns a frozen definition', () => {
    expect(Object.isFrozen(def)).to.equal(true);
    expect(def.id).to.equal('typed');
  });
});
