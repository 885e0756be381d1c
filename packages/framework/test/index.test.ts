/**
 * What importing @dbp-bench/framework gives: everything of @dbp-bench/core (the same objects), the
 * version written into provenance, and the gradient functions and chained ops of the @tensorflow/tfjs
 * bundle, which tfjs-core alone does not register (checked in fresh processes).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as core from '@dbp-bench/core';
import * as framework from '../src';

const FRAMEWORK = path.resolve(__dirname, '../src');

/** In a fresh process: require `mod` (if any), then report what tfjs-core has registered. */
function tfjsRegistrations(mod: string | undefined): { squareGrad: boolean; chainedSquare: boolean } {
  const script = `
    ${mod ? `require(${JSON.stringify(mod)});` : ''}
    const tf = require('@tensorflow/tfjs-core');
    console.log(JSON.stringify({ squareGrad: tf.getGradient('Square') !== undefined, chainedSquare: typeof tf.Tensor.prototype.square === 'function' }));`;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
    squareGrad: boolean;
    chainedSquare: boolean;
  };
}

describe('@dbp-bench/framework entry point', function () {
  this.timeout(60_000);

  it('re-exports every export of @dbp-bench/core, as the same objects', () => {
    const fw = framework as Record<string, unknown>;
    for (const [k, v] of Object.entries(core)) expect(fw[k], k).to.equal(v);
  });

  it('FRAMEWORK_VERSION is the version of this package (core and framework are released together)', () => {
    expect(framework.FRAMEWORK_VERSION).to.equal((require('../../package.json') as { version: string }).version);
    expect(framework.FRAMEWORK_VERSION).to.equal((require('@dbp-bench/core/package.json') as { version: string }).version);
  });

  it('importing it registers the gradients and chained ops of @tensorflow/tfjs; tfjs-core with core alone does not', () => {
    expect(tfjsRegistrations(FRAMEWORK)).to.deep.equal({ squareGrad: true, chainedSquare: true });
    expect(tfjsRegistrations('@dbp-bench/core')).to.deep.equal({ squareGrad: false, chainedSquare: false });
  });
});
