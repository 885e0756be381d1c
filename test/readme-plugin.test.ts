/**
 * The README's plugin walkthrough ("Benchmark your own defense") compiles as written: its TypeScript
 * blocks are written into a project outside the repository, linked to the installed packages the way
 * `dbp-bench init-plugin` links a plugin, with the tsconfig init-plugin writes, and compiled by tsc. A
 * compile error fails the test naming the README line. The compiled plugin is then registered and run.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KeyedNoiseSource, PluginRegistry, eotRows, type Defense, type PluginModule } from '@dbp-bench/framework';
import { PLUGIN_TSCONFIG, linkInstalledPackages } from '@dbp-bench/cli';

const ROOT = path.resolve(__dirname, '..', '..');
const README = path.join(ROOT, 'README.md');
const SECTION = '## Benchmark your own defense';

interface Block {
  /** README line (1-based) of the block's first code line. */
  line: number;
  /** Columns the fence is indented by (removed from every line). */
  indent: number;
  code: string;
  /** Where the block goes in the project: its `// src/....ts` first line, else a name of its own. */
  file: string;
}

/** The ```ts blocks of the README section starting at `heading` (up to the next `## `). */
export function typescriptBlocks(markdown: string, heading: string): Block[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README.md has no section '${heading}'`);
  const blocks: Block[] = [];
  for (let i = start + 1; i < lines.length && !lines[i].startsWith('## '); i++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++)
      body.push(lines[j].slice(Math.min(indent, lines[j].length - lines[j].trimStart().length)));
    if (j >= lines.length) throw new Error(`README.md:${i + 1}: unclosed code block`);
    const named = /^\/\/\s*(src\/[\w./-]+\.ts)\s*$/.exec(body[0] ?? '');
    blocks.push({ line: i + 2, indent, code: body.join('\n') + '\n', file: named ? named[1] : `src/readme-line-${i + 2}.ts` });
    i = j;
  }
  return blocks;
}

/** tsc's `src/x.ts(row,col): error TSnnnn: ...` lines as `README.md:<line>:<col>: error TSnnnn: ...`. */
export function readmeDiagnostics(tscOutput: string, blocks: readonly Block[]): string[] {
  return tscOutput
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(src\/[^(]+)\((\d+),(\d+)\): (.*)$/.exec(l);
      const b = m && blocks.find((x) => x.file === m[1]);
      return m && b ? `README.md:${b.line + Number(m[2]) - 1}:${b.indent + Number(m[3])}: ${m[4]}` : l;
    });
}

describe('README plugin walkthrough', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-readme-plugin-'));
    expect(path.relative(ROOT, tmp).startsWith('..'), `${tmp} is outside ${ROOT}`).to.equal(true);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it(`the TypeScript blocks of "${SECTION.slice(3)}" compile as written (outside the repository, against the installed packages) and the plugin runs`, async function () {
    this.timeout(60000);
    const blocks = typescriptBlocks(fs.readFileSync(README, 'utf8'), SECTION);
    expect(blocks.length, 'the section has TypeScript blocks').to.be.at.least(1);
    linkInstalledPackages(tmp);
    fs.writeFileSync(
      path.join(tmp, 'tsconfig.json'),
      // The tsconfig init-plugin writes; noEmitOnError: the emitted code is run only when it type-checks.
      JSON.stringify({ ...PLUGIN_TSCONFIG, compilerOptions: { ...PLUGIN_TSCONFIG.compilerOptions, noEmitOnError: true } }),
    );
    for (const b of blocks) {
      fs.mkdirSync(path.dirname(path.join(tmp, b.file)), { recursive: true });
      fs.writeFileSync(path.join(tmp, b.file), b.code);
    }
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', tmp, '--pretty', 'false'], {
      cwd: tmp,
      encoding: 'utf8',
    });
    if (tsc.status !== 0) {
      const errors = readmeDiagnostics(tsc.stdout, blocks);
      expect.fail(`the README's plugin snippet does not compile:\n${errors.join('\n')}${tsc.stderr}`);
    }

    // What the blocks define, registered and run (on the CLI's own tfjs-core, through the links).
    const registered = fs.existsSync(path.join(tmp, 'dist', 'plugins.js'));
    expect(registered, 'a block is src/plugins.ts (the registration list)').to.equal(true);
    const mod = require(path.join(tmp, 'dist', 'plugins.js')) as PluginModule;
    const registry = new PluginRegistry().use(mod, 'readme-snippet');
    const defenses = registry.ids('defense');
    expect(defenses, 'the snippet registers a defense').to.have.length.at.least(1);
    const scope = registry.createScope();
    const before = tf.memory().numTensors;
    for (const id of defenses) {
      const defense = await scope.create<Defense>('defense', id, {});
      expect(defense.id).to.equal(id);
      const x = tf.randomUniform([2, 6, 6, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
      const noise = new KeyedNoiseSource(7, eotRows([0, 1]));
      const y = defense.purify(x, noise);
      const again = defense.purify(x, noise);
      expect(y.shape).to.deep.equal(x.shape);
      const v = y.dataSync();
      expect(Math.min(...v)).to.be.at.least(0);
      expect(Math.max(...v)).to.be.at.most(1);
      expect(Array.from(again.dataSync()), 'keyed noise replays').to.deep.equal(Array.from(v));
      tf.dispose([x, y, again]);
      defense.dispose?.();
    }
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('names the README line of a block that does not compile', () => {
    const md = [
      '# x',
      SECTION,
      'text',
      '   ```ts',
      '   // src/a.ts',
      '   const n: number = "s";',
      '   ```',
      '## next',
      '```ts',
      'ignored',
      '```',
    ].join('\n');
    const blocks = typescriptBlocks(md, SECTION);
    expect(blocks).to.deep.equal([{ line: 5, indent: 3, code: '// src/a.ts\nconst n: number = "s";\n', file: 'src/a.ts' }]);
    const tscOut = "src/a.ts(2,7): error TS2322: Type 'string' is not assignable to type 'number'.\n";
    expect(readmeDiagnostics(tscOut, blocks)).to.deep.equal([
      "README.md:6:10: error TS2322: Type 'string' is not assignable to type 'number'.",
    ]);
  });
});
