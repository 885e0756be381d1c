import { expect } from 'chai';
import { definePlugin, documentedOptionsTable, optionsTable, pluginDocSection } from '../src';

const def = definePlugin({
  kind: 'defense',
  id: 'toy',
  description: 'A toy | defense',
  schema: {
    type: 'object',
    required: ['weights'],
    properties: {
      weights: { type: 'string', 'x-dbp-file': true, description: 'UNet file' },
      strength: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.1, description: 't*' },
      mode: { enum: ['a', 'b'], default: 'a' },
      sizes: { type: 'array', items: { type: 'integer' }, default: [1, 2] },
      eot: { type: 'object', default: {}, properties: { samples: { type: 'integer', minimum: 1, default: 10 } } },
      extra: { type: ['string', 'null'] },
    },
  },
  create: () => ({}),
});

describe('plugin docs: the options table generated from a schema', () => {
  it('renders one row per option (nested objects dotted), with type, default or required, description and bounds', () => {
    expect(optionsTable(def.schema)).to.equal(
      [
        '| option | type | default | description |',
        '| --- | --- | --- | --- |',
        '| `weights` | string (file) | required | UNet file |',
        '| `strength` | number | `0.1` | t* (> 0, ≤ 1) |',
        '| `mode` | `"a"` \\| `"b"` | `"a"` | — |',
        '| `sizes` | array of integer | `[1,2]` | — |',
        '| `eot` | object | `{}` | — |',
        '| `eot.samples` | integer | `10` | (≥ 1) |',
        '| `extra` | string \\| null | — | — |',
      ].join('\n'),
    );
  });

  it('a section is the ### <id> heading, the description and the table; documentedOptionsTable reads the table back', () => {
    const section = pluginDocSection(def);
    expect(section.split('\n').slice(0, 3)).to.deep.equal(['### toy', '', 'defense `toy`: A toy | defense']);
    const readme = `# pkg\n\n## Plugins\n\n${section}\n### other\n\nno table here\n`;
    expect(documentedOptionsTable(readme, 'toy')).to.equal(optionsTable(def.schema));
    expect(documentedOptionsTable(readme, 'other')).to.equal(undefined);
    expect(documentedOptionsTable(readme, 'missing')).to.equal(undefined);
  });

  it('a schema without options renders a (none) row', () => {
    expect(optionsTable({ type: 'object', properties: {} })).to.include('| (none) |');
  });
});
