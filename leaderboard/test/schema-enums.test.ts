/**
 * The published entry schema is JSON, so its enums cannot import the TypeScript lists they mirror:
 * these tests keep them equal (the names have one home, @dbp-bench/framework).
 */
import { expect } from 'chai';
import { NOISE_POLICIES, NORMS } from '@dbp-bench/framework';
import { entrySchema } from '../src';

/** Every `enum` of a property called `name`, anywhere in the schema. */
function enumsOf(schema: unknown, name: string): unknown[][] {
  const out: unknown[][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const obj = node as Record<string, unknown>;
    const props = obj.properties as Record<string, { enum?: unknown[] }> | undefined;
    if (props && Array.isArray(props[name]?.enum)) out.push(props[name].enum!);
    Object.values(obj).forEach(walk);
  };
  walk(schema);
  return out;
}

describe('entry schema enums derive from the framework lists', () => {
  it('noisePolicy is NOISE_POLICIES', () => {
    const found = enumsOf(entrySchema(), 'noisePolicy');
    expect(found.length).to.equal(1);
    expect(found[0]).to.deep.equal([...NOISE_POLICIES]);
  });

  it("norm is NORMS (the threat model's also allows 'none', the clean entry)", () => {
    const found = enumsOf(entrySchema(), 'norm');
    expect(found.length).to.equal(2);
    for (const e of found) expect(e.filter((v) => v !== 'none')).to.deep.equal([...NORMS]);
    expect(found.some((e) => e.includes('none'))).to.equal(true);
  });
});
