/**
 * Config error messages (src/schema.ts, src/files.ts): one line per real problem with its JSON path, the
 * best-matching branch of a oneOf only, a did-you-mean for unknown fields, line and column for JSON
 * syntax errors.
 */
import { expect } from 'chai';
import { ConfigValidationError, didYouMean, editDistance, parseJsonChecked, validateSchema, type JsonSchema } from '../src';

const subset: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    subset: {
      oneOf: [
        {
          type: 'object',
          required: ['kind', 'n'],
          additionalProperties: false,
          properties: { kind: { const: 'first' }, n: { type: 'integer', minimum: 1 }, offset: { type: 'integer', minimum: 0 } },
        },
        {
          type: 'object',
          required: ['kind', 'indices'],
          additionalProperties: false,
          properties: { kind: { const: 'indices' }, indices: { type: 'array', items: { type: 'integer' } } },
        },
        {
          type: 'object',
          required: ['kind', 'n', 'seed'],
          additionalProperties: false,
          properties: { kind: { const: 'random' }, n: { type: 'integer', minimum: 1 }, seed: { type: 'integer' } },
        },
      ],
    },
    options: { type: 'object', additionalProperties: false, properties: { strength: { type: 'number' }, steps: { type: 'integer' } } },
  },
};

function problems(schema: JsonSchema, data: unknown): string[] {
  try {
    validateSchema(schema, data, 'config.json');
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigValidationError);
    return (e as ConfigValidationError).problems;
  }
  return [];
}

describe('config error messages', () => {
  it('a oneOf reports only the branch its discriminator selects', () => {
    expect(problems(subset, { subset: { kind: 'first', n: -3 } })).to.deep.equal(['$.subset.n: must be >= 1']);
    expect(problems(subset, { subset: { kind: 'random', n: 4 } })).to.deep.equal(['$.subset.seed: is required']);
    expect(problems(subset, { subset: { kind: 'indices', indices: [1, 'a'] } })).to.deep.equal(['$.subset.indices[1]: must be integer']);
  });

  it('a discriminator no branch accepts is one line naming the allowed values in schema order', () => {
    expect(problems(subset, { subset: { kind: 'frist', n: 3 } })).to.deep.equal([
      '$.subset.kind: must be one of "first", "indices", "random"',
    ]);
  });

  it('an unknown field gets a did-you-mean when a known one is close, and only then', () => {
    expect(problems(subset, { options: { strenght: 0.1 } })).to.deep.equal([
      '$.options.strenght: is not a known field (did you mean `strength`?)',
    ]);
    expect(problems(subset, { options: { step: 3 } })).to.deep.equal(['$.options.step: is not a known field (did you mean `steps`?)']);
    expect(problems(subset, { options: { colour: 'red' } })).to.deep.equal(['$.options.colour: is not a known field']);
  });

  it('const says the value it wants', () => {
    expect(problems({ type: 'object', properties: { v: { const: 1 } } }, { v: 2 })).to.deep.equal(['$.v: must be 1']);
  });

  it('editDistance and didYouMean', () => {
    expect(editDistance('strenght', 'strength')).to.equal(1); // one transposition
    expect(editDistance('kitten', 'sitting')).to.equal(3);
    expect(editDistance('', 'abc')).to.equal(3);
    expect(didYouMean('numInferenceStep', ['numInferenceSteps', 'strength'])).to.equal('numInferenceSteps');
    expect(didYouMean('eps', ['steps', 'norm'])).to.equal(undefined);
  });

  it('a JSON syntax error names the line and column and shows the line with a caret', () => {
    const text = '{\n  "name": "x",\n  "seed": 0,,\n}\n';
    let msg = '';
    try {
      parseJsonChecked(text, 'run.json', 'config');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).to.include('run.json is invalid');
    expect(msg).to.match(/not valid JSON: .* at line 3, column 13:\n\s+"seed": 0,,\n\s+\^/);
    const lines = msg.split('\n');
    const src = lines.findIndex((l) => l.endsWith('"seed": 0,,'));
    expect(lines[src + 1].indexOf('^')).to.equal(lines[src].indexOf(',,') + 1);
    expect(msg).to.not.match(/position \d+/);
  });
});
