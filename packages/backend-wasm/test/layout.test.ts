/**
 * The package is laid out as TensorFlow.js lays out its backends: one replaced kernel per file,
 * `src/kernels/<KernelName>.ts`, exporting its KernelConfig, and one registration list,
 * `src/register_all_kernels.ts`. A kernel file that is not in the list, a list entry without a file,
 * or a config named after another kernel fails here.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { WASM_KERNEL_CONFIGS, WASM_KERNEL_NAMES } from '../src';

const KERNELS_DIR = path.resolve(__dirname, '..', '..', 'src', 'kernels');

/** Kernel files are named after their kernel (upper-case first letter); helpers are snake_case. */
function kernelFiles(): string[] {
  return fs
    .readdirSync(KERNELS_DIR)
    .filter((f) => /^[A-Z][A-Za-z0-9]*\.ts$/.test(f))
    .map((f) => f.slice(0, -3))
    .sort();
}

describe('backend-wasm layout: one kernel per file, one registration list', () => {
  it('every kernel file exports exactly one wasm KernelConfig named after the file, and it is in the list', () => {
    const files = kernelFiles();
    expect(files.length).to.be.greaterThan(0);
    for (const name of files) {
      const mod = require(path.join(__dirname, '..', 'src', 'kernels', name)) as Record<string, unknown>;
      const configs = Object.entries(mod).filter(([k]) => k.endsWith('Config'));
      expect(
        configs.map(([k]) => k),
        `${name}.ts exports`,
      ).to.have.length(1);
      const config = configs[0][1] as KernelConfig;
      expect(config.kernelName, `${name}.ts kernelName`).to.equal(name);
      expect(config.backendName, `${name}.ts backendName`).to.equal('wasm');
      expect(typeof config.kernelFunc, `${name}.ts kernelFunc`).to.equal('function');
      expect(WASM_KERNEL_CONFIGS, `${name}.ts in register_all_kernels.ts`).to.include(config);
    }
  });

  it('the registration list holds one config per kernel file and nothing else', () => {
    expect([...WASM_KERNEL_NAMES].sort()).to.deep.equal(kernelFiles());
    expect(new Set(WASM_KERNEL_NAMES).size).to.equal(WASM_KERNEL_NAMES.length);
  });
});
