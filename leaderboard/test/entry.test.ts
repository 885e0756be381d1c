import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigValidationError } from '@dbp-bench/core';
import {
  accuracyMetric,
  entryPath,
  entrySchema,
  formatEps,
  loadEntries,
  parseEps,
  readEntry,
  threatId,
  validateEntry,
  wilson,
  writeEntry,
} from '../src';
import { measuredEntry } from './helpers';

describe('leaderboard entries', () => {
  it('Wilson 95% intervals match known values', () => {
    const a = wilson(50, 100);
    expect(a.lower).to.be.closeTo(0.40383, 1e-5);
    expect(a.upper).to.be.closeTo(0.59617, 1e-5);
    const z = wilson(0, 10);
    expect(z.lower).to.equal(0);
    expect(z.upper).to.be.closeTo(0.27753, 1e-5);
    const f = wilson(10, 10);
    expect(f.lower).to.be.closeTo(0.72247, 1e-5);
    expect(f.upper).to.equal(1);
    // ALGORITHMS.md §9.1: 484/1024 = 47.27%, SE about 1.56 points -> half-width about 3.05.
    const m = accuracyMetric(484, 1024);
    expect(m.value).to.equal(47.2656);
    expect(m.ci!.upper - m.ci!.lower).to.be.closeTo(6.1, 0.05);
    expect(() => wilson(3, 0)).to.throw(RangeError);
  });

  it('formats and parses budgets', () => {
    expect(formatEps(8 / 255)).to.equal('8/255');
    expect(formatEps(0.5)).to.equal('0.5');
    expect(parseEps('8/255')).to.be.closeTo(8 / 255, 1e-12);
    expect(parseEps('0.031')).to.equal(0.031);
    expect(() => parseEps('eight')).to.throw(/8\/255/);
    expect(threatId('linf', 8 / 255)).to.equal('linf-8_255');
    expect(threatId('l2', 0.5)).to.equal('l2-0.5');
    expect(threatId('none', null)).to.equal('clean');
  });

  it('the published schema accepts a measured entry and rejects string numbers and unknown fields', () => {
    expect(entrySchema().$id).to.match(/leaderboard-entry/);
    validateEntry(measuredEntry());
    const bad = JSON.parse(JSON.stringify(measuredEntry())) as {
      results: { clean: { value: unknown } };
      threatModel: { eps: unknown };
      extra?: unknown;
    };
    bad.results.clean.value = '89.69';
    bad.threatModel.eps = '8/255';
    bad.extra = 1;
    let err: ConfigValidationError | undefined;
    try {
      validateEntry(bad, 'bad.json');
    } catch (e) {
      err = e as ConfigValidationError;
    }
    expect(err).to.be.instanceOf(ConfigValidationError);
    const text = err!.problems.join('\n');
    expect(text).to.match(/\$\.results\.clean/);
    expect(text).to.match(/\$\.threatModel\.eps/);
    expect(text).to.match(/\$\.extra: is not a known field/);
    expect(err!.message).to.match(/bad\.json/);
  });

  it('rejects a value outside its own interval', () => {
    const e = measuredEntry();
    e.results.robust = { ...e.results.robust!, value: 99 };
    expect(() => validateEntry(e)).to.throw(/outside its interval/);
  });

  it('writes atomically, validates on write and load, and finds entries by dataset and threat', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-entries-'));
    const e = measuredEntry();
    const file = entryPath(dir, e);
    expect(path.relative(dir, file)).to.equal(path.join('cifar10', 'linf-8_255', 'dp-ddpm-wrn.json'));
    writeEntry(file, e);
    expect(readEntry(file)).to.deep.equal(e);
    expect(() => writeEntry(path.join(dir, 'x.json'), { ...e, kind: 'guessed' } as never)).to.throw(ConfigValidationError);
    expect(fs.existsSync(path.join(dir, 'x.json'))).to.equal(false);
    fs.writeFileSync(path.join(dir, 'broken.json'), JSON.stringify({ ...e, schemaVersion: 2 }));
    expect(() => loadEntries(dir)).to.throw(/broken\.json[\s\S]*schemaVersion/);
    fs.unlinkSync(path.join(dir, 'broken.json'));
    expect(loadEntries(dir).map((l) => l.entry.id)).to.deep.equal(['dp-ddpm-wrn']);
  });
});
