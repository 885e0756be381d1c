/**
 * @dbp-bench/core needs no tensor library: requiring it, in a fresh process, loads no module under
 * `@tensorflow/` The same check then requires tfjs-core
 * itself, to show it does see a tensorflow module when one is loaded.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const CORE = path.resolve(__dirname, '..', 'src');
const TENSORFLOW = /[\\/]node_modules[\\/]@tensorflow[\\/]/;

describe('@dbp-bench/core loads no TensorFlow.js', function () {
  this.timeout(60_000);

  it('requiring it loads no @tensorflow module (fresh process)', () => {
    const script = `
      const core = require(${JSON.stringify(CORE)});
      const before = Object.keys(require.cache);
      require('@tensorflow/tfjs-core');
      const after = Object.keys(require.cache);
      console.log(JSON.stringify({ exports: Object.keys(core).length, before, after }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
      exports: number;
      before: string[];
      after: string[];
    };
    expect(out.exports).to.be.greaterThan(50);
    expect(
      out.before.some((m) => m.startsWith(CORE)),
      'core itself was loaded',
    ).to.equal(true);
    expect(out.before.filter((m) => TENSORFLOW.test(m))).to.deep.equal([]);
    // The control: the same check sees tfjs-core once it is required.
    expect(out.after.filter((m) => TENSORFLOW.test(m))).to.not.deep.equal([]);
  });
});
