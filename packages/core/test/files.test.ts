/** Reading user-named files (src/files.ts): errors naming the path, the stated limits, bounded inflation. */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import {
  formatBytes,
  formatNumber,
  ConfigValidationError,
  DataFormatError,
  FileAccessError,
  LIMITS,
  LimitExceededError,
  MissingFileError,
  budgetExceedsInput,
  fileError,
  firstNonFinite,
  inflateBudget,
  inflateChecked,
  jsonNestingDepth,
  parseJsonChecked,
  readFileChecked,
  validateSchema,
} from '../src';

describe('formatNumber', () => {
  it('keeps four significant digits and never rounds a small value to zero', () => {
    expect([1e-4, 0.00012346, 0.5, 2.3188, 1234.5678, 123456, 0, -0.0004, NaN].map((v) => formatNumber(v))).to.deep.equal([
      '1.000e-4',
      '1.235e-4',
      '0.5',
      '2.319',
      '1235',
      '1.235e+5',
      '0',
      '-4.000e-4',
      'NaN',
    ]);
    expect(formatNumber(0.000123, 2)).to.equal('1.2e-4');
  });
});

describe('formatBytes', () => {
  it('prints decimal units with at most one decimal', () => {
    expect([0, 999, 1000, 1_648_877, 170_498_071, 12_345_678_901].map(formatBytes)).to.deep.equal([
      '0 B',
      '999 B',
      '1.0 kB',
      '1.6 MB',
      '170 MB',
      '12.3 GB',
    ]);
  });
});

describe('user-named files', () => {
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-files-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('maps fs error codes to typed errors that name the path and what was expected', () => {
    const e = (code: string): Error => fileError(Object.assign(new Error(`${code}: x`), { code }), '/data/w.pt', 'a weights file');
    expect(e('ENOENT')).to.be.instanceOf(MissingFileError).and.have.property('message', '/data/w.pt not found: expected a weights file');
    expect(e('EISDIR'))
      .to.be.instanceOf(DataFormatError)
      .and.have.property('message', '/data/w.pt: is a directory, expected a weights file');
    expect(e('EACCES'))
      .to.be.instanceOf(FileAccessError)
      .and.have.property('message', '/data/w.pt: permission denied (EACCES) reading a weights file');
    expect(e('EPERM').message).to.match(/permission denied \(EPERM\)/);
    expect(e('ELOOP').message).to.match(/^\/data\/w\.pt: too many levels of symbolic links/);
    expect(e('EIO'))
      .to.be.instanceOf(FileAccessError)
      .and.have.property('message')
      .that.matches(/^\/data\/w\.pt: cannot read a weights file: EIO/);
    const plain = new TypeError('not fs');
    expect(fileError(plain, 'f', 'x')).to.equal(plain);
  });

  it('readFileChecked: refuses directories and files over the limit before reading them', () => {
    expect(() => readFileChecked(dir, 'a config')).to.throw(DataFormatError, /is a directory, expected a config/);
    expect(() => readFileChecked(path.join(dir, 'none'), 'a config')).to.throw(MissingFileError, /none not found: expected a config/);
    const f = path.join(dir, 'big.json');
    fs.writeFileSync(f, 'x'.repeat(101));
    expect(() => readFileChecked(f, 'a config', { maxBytes: 100 })).to.throw(
      LimitExceededError,
      /big\.json: is 101 bytes; a config may be at most 100 bytes/,
    );
    expect(readFileChecked(f, 'a config', { maxBytes: 101 }).length).to.equal(101);
  });

  it('JSON: nesting depth ignores brackets in strings; overflowing numbers are refused with their path', () => {
    expect(jsonNestingDepth('{"a": "[[[[{{{", "b": [1, [2]]}')).to.equal(3);
    expect(jsonNestingDepth('"\\"[["')).to.equal(0);
    expect(() => parseJsonChecked('{"a": [1, 1e999]}', 'c.json')).to.throw(
      DataFormatError,
      /c\.json: \$\.a\[1\]: the number overflows a double/,
    );
    expect(() => parseJsonChecked('{"a": 1e999}', 'c.json', 'config')).to.throw(
      ConfigValidationError,
      /c\.json is invalid:\n {2}- \$\.a: the number overflows/,
    );
    expect(() => parseJsonChecked('['.repeat(LIMITS.jsonDepth + 1) + ']'.repeat(LIMITS.jsonDepth + 1), 'd.json')).to.throw(
      LimitExceededError,
      /nests 65 levels deep/,
    );
    expect(firstNonFinite({ x: [{ 'odd key': NaN }] })).to.equal('$.x[0]["odd key"]');
    expect(firstNonFinite({ x: 1, y: [2, null, 'NaN'] })).to.equal(undefined);
  });

  it('validateSchema refuses NaN and Infinity instead of letting JSON turn them into null (= default)', () => {
    const schema = { type: 'object', properties: { eps: { type: ['number', 'null'], default: null } } };
    expect(validateSchema<{ eps: number | null }>(schema, {}, 'o').eps).to.equal(null);
    expect(() => validateSchema(schema, { eps: Infinity }, 'options of attack')).to.throw(
      ConfigValidationError,
      /\$\.eps: must be a finite number/,
    );
    expect(() => validateSchema(schema, { eps: NaN }, 'options of attack')).to.throw(/\$\.eps: must be a finite number/);
  });

  it('inflation stops at the budget: max(64 MiB, 50x the compressed size), at most 2 GiB', () => {
    expect(inflateBudget(1000)).to.equal(LIMITS.inflateMinBytes);
    expect(inflateBudget(10 * 1024 * 1024)).to.equal(50 * 10 * 1024 * 1024);
    expect(inflateBudget(1e12)).to.equal(LIMITS.inflateMaxBytes);
    const gz = zlib.gzipSync(Buffer.alloc(1_000_000, 1));
    expect(inflateChecked(gz, 'gzip', 'x.gz', 'the data', 1_000_000).length).to.equal(1_000_000);
    expect(() => inflateChecked(gz, 'gzip', 'x.gz', 'the data', 999_999)).to.throw(
      LimitExceededError,
      /x\.gz: the data inflates to more than 999999 bytes from \d+ compressed bytes/,
    );
    expect(() => inflateChecked(gz.subarray(0, 20), 'gzip', 'x.gz', 'the data')).to.throw(
      DataFormatError,
      /x\.gz: the data: gzip data is corrupted or truncated/,
    );
  });

  it('an l_2 budget above the diameter sqrt(H·W·C) of the input is named; l_inf and smaller budgets pass', () => {
    expect(budgetExceedsInput({ norm: 'l2', eps: 55.42 }, [32, 32, 3])).to.equal(undefined); // sqrt(3072) = 55.4256...
    expect(budgetExceedsInput({ norm: 'l2', eps: 55.5 }, [32, 32, 3])).to.match(/^55\.5 exceeds 55\.4256 = sqrt\(32·32·3\)/);
    expect(budgetExceedsInput({ norm: 'linf', eps: 1 }, [1, 1, 1])).to.equal(undefined);
  });
});
