/**
 * `dbp-bench init-plugin <dir>`: write a complete plugin package outside the repository, offline. The
 * package builds with its own TypeScript compiler and finds `@dbp-bench/*` and `@tensorflow/tfjs-core`
 * through symbolic links in `<dir>/node_modules` to the very packages this CLI runs on (resolved from
 * the CLI's own install), so the plugin and dbp-bench share one copy of each at run time.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  PLUGIN_KINDS,
  isSafeId,
  nearestPackageJson,
  writeFileAtomic,
  writeJsonAtomic,
  type PluginKind,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { SYNTHETIC_EPS, syntheticRunConfig, writeSyntheticClassifier, type SyntheticRunOptions } from '../synthetic';
import type { AddCommand } from './types';

/** One smoke-benchmark config written next to the plugin, and the npm script that runs it. */
interface SmokeRun {
  file: string;
  script: string;
  config: Omit<SyntheticRunOptions, 'n' | 'weights' | 'plugins'>;
}

/** What init-plugin writes for a kind: the plugin file's source and its smoke runs (the plugin's first, then its baseline). */
interface Template {
  source(id: string): string;
  runs(id: string): SmokeRun[];
  /** The README's sentence about the runs. */
  runsReadme(id: string): string;
}

/** The images, classifier and attack of every smoke run (see ../synthetic). */
const SMOKE = { n: 8, weights: 'classifier.safetensors', plugins: ['.'] };
const SMOKE_NOTE = 'a smoke benchmark of the plugin, not a robustness number';

/** The kinds init-plugin has a template for. */
const TEMPLATES: { readonly [K in PluginKind]?: Template } = {
  defense: {
    source: defenseTemplate,
    runs: (id) => [
      {
        file: 'run.json',
        script: 'bench',
        config: {
          name: `${id}-synthetic`,
          defense: { id, options: { sigma: 0.25 } },
          eotSamples: 2,
          purifications: 2,
          model: `${id} + small-cnn (untrained)`,
          description: `The ${id} defense in front of an untrained small-cnn on ${SMOKE.n} synthetic images under PGD-2 + EoT-2: ${SMOKE_NOTE}.`,
        },
      },
      {
        file: 'run-identity.json',
        script: 'bench:identity',
        config: {
          name: `${id}-synthetic-baseline`,
          defense: { id: 'identity' },
          eotSamples: 2,
          purifications: 2,
          model: 'identity + small-cnn (untrained)',
          description: 'The baseline of run.json: the same benchmark without a defense (identity).',
        },
      },
    ],
    runsReadme: (id) =>
      `\`run.json\`: a smoke benchmark of \`${id}\`: ${SMOKE.n} images of the synthetic dataset, an untrained\n  small-cnn (\`classifier.safetensors\`), PGD-2 with EoT-2. \`run-identity.json\` is the same without a\n  defense (identity), to compare with.`,
  },
  attack: {
    source: attackTemplate,
    runs: (id) => [
      {
        file: 'run.json',
        script: 'bench',
        config: {
          name: `${id}-synthetic`,
          attack: { id, options: { eps: SYNTHETIC_EPS } },
          description: `The ${id} attack on an untrained small-cnn (no defense) on ${SMOKE.n} synthetic images, l_inf ${SYNTHETIC_EPS}: ${SMOKE_NOTE}.`,
        },
      },
      {
        file: 'run-pgd.json',
        script: 'bench:pgd',
        config: { name: `${id}-synthetic-baseline`, description: 'The baseline of run.json: the built-in PGD-2 with the same budget.' },
      },
    ],
    runsReadme: (id) =>
      `\`run.json\`: a smoke benchmark of \`${id}\`: ${SMOKE.n} images of the synthetic dataset, an untrained\n  small-cnn (\`classifier.safetensors\`), no defense, l_inf ${SYNTHETIC_EPS}. \`run-pgd.json\` is the same with the\n  built-in PGD-2, to compare with.`,
  },
};

/** Kinds init-plugin has a template for. */
export const INIT_PLUGIN_KINDS = Object.keys(TEMPLATES) as PluginKind[];

/** Longest plugin id init-plugin accepts (it names a source file and the example runs). */
const MAX_ID_CHARS = 64;

/** npm's package-name rule (lowercase, optional scope, URL-safe characters, at most 214 characters). */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/**
 * The packages linked into `<dir>/node_modules`: what the plugin imports (framework, core,
 * tfjs-core), the CLI (for `npm run bench`) and, when installed next to dbp-bench, the compiler.
 */
const LINKED: readonly { name: string; optional?: boolean; bin?: [string, string] }[] = [
  { name: '@dbp-bench/core' },
  { name: '@dbp-bench/framework' },
  { name: '@tensorflow/tfjs-core' },
  { name: '@dbp-bench/cli', bin: ['dbp-bench', 'bin/dbp-bench.js'] },
  { name: 'typescript', optional: true, bin: ['tsc', 'bin/tsc'] },
];

export interface InitPluginOptions {
  dir: string;
  kind?: string;
  id?: string;
  /** npm package name (default `dbp-bench-plugin-<id>`). */
  name?: string;
  /** Write into a non-empty directory (overwriting the scaffold's files and links). */
  force?: boolean;
  /** Refuses an id this registry already has for the kind (the built-ins). */
  registry?: PluginRegistry;
}

export interface LinkedPackage {
  name: string;
  version: string;
  /** The installed package directory the link points to. */
  target: string;
  /** The link, `<dir>/node_modules/<name>`. */
  link: string;
}

export interface InitPluginResult {
  dir: string;
  kind: PluginKind;
  id: string;
  name: string;
  /** Files written, relative to dir. */
  files: string[];
  links: LinkedPackage[];
  /** Optional packages that were not found next to dbp-bench (e.g. typescript). */
  missing: string[];
}

/** Where this CLI is installed: the directory of its package.json. */
function cliPackageDir(): string {
  const pj = nearestPackageJson(__filename);
  if (!pj) throw new Error(`init-plugin: cannot find the package.json of @dbp-bench/cli above ${__filename}`);
  return pj.dir;
}

/**
 * The installed directory (real path) and version of `name` as this CLI resolves it (or, for
 * framework's peers such as @dbp-bench/core, as @dbp-bench/framework resolves it), or undefined.
 */
export function resolveInstalledPackage(name: string, from: string = cliPackageDir()): { dir: string; version: string } | undefined {
  const tryFrom = (base: string, n: string): { dir: string; version: string } | undefined => {
    try {
      const file = createRequire(path.join(base, 'package.json')).resolve(`${n}/package.json`);
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string };
      return { dir: fs.realpathSync(path.dirname(file)), version: json.version ?? '0.0.0' };
    } catch {
      return undefined;
    }
  };
  const direct = tryFrom(from, name);
  if (direct || name === '@dbp-bench/framework') return direct;
  const framework = tryFrom(from, '@dbp-bench/framework');
  return framework ? tryFrom(framework.dir, name) : undefined;
}

/** Check --kind, --id and --name; returns the validated values (clear errors otherwise). */
export function checkInitPluginArgs(o: Pick<InitPluginOptions, 'kind' | 'id' | 'name' | 'registry'>): {
  kind: PluginKind;
  id: string;
  name: string;
  template: Template;
} {
  const kind = o.kind ?? 'defense';
  if (!(PLUGIN_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`init-plugin: --kind '${kind}' is not a plugin kind (expected one of ${PLUGIN_KINDS.join(', ')})`);
  }
  const template = TEMPLATES[kind as PluginKind];
  if (!template) {
    throw new Error(
      `init-plugin: --kind '${kind}' has no template yet (init-plugin writes: ${INIT_PLUGIN_KINDS.join(', ')}); scaffold a defense and add src/${kind}/<id>.ts by hand, listed in src/plugins.ts`,
    );
  }
  const id = o.id ?? `my-${kind}`;
  if (!isSafeId(id) || id.length > MAX_ID_CHARS) {
    throw new Error(
      `init-plugin: --id '${id}' is not a safe plugin id (expected a letter or digit, then letters, digits, '.', '_', '-', at most ${MAX_ID_CHARS} characters: it names src/${kind}/<id>.ts and the example runs)`,
    );
  }
  if (o.registry?.has(kind as PluginKind, id)) {
    throw new Error(
      `init-plugin: --id '${id}' is already a registered ${kind} (package ${o.registry.registration(kind as PluginKind, id).package}); plugin ids are unique per kind, choose another`,
    );
  }
  const name = o.name ?? `dbp-bench-plugin-${id.toLowerCase()}`;
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new Error(
      `init-plugin: --name '${name}' is not a valid npm package name (lowercase letters, digits, '-', '.', '_', '~', optionally @scope/, at most 214 characters)`,
    );
  }
  return { kind: kind as PluginKind, id, name, template };
}

/** Refuse a non-empty (or non-directory) target unless `force`. */
function checkTarget(dir: string, force: boolean): void {
  if (!fs.existsSync(dir)) return;
  if (!fs.statSync(dir).isDirectory()) throw new Error(`init-plugin: ${dir} exists and is not a directory`);
  const entries = fs.readdirSync(dir);
  if (entries.length && !force) {
    throw new Error(
      `init-plugin: ${dir} is not empty (${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}, e.g. '${entries.sort()[0]}'); choose a new or empty directory, or pass --force to overwrite the scaffold's files there`,
    );
  }
}

/** Create (or replace) the link `link` -> `target`; never replaces a real file or directory. */
function symlink(target: string, link: string, type: 'junction' | 'file'): void {
  fs.mkdirSync(path.dirname(link), { recursive: true });
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(link);
  } catch {
    st = undefined;
  }
  if (st && !st.isSymbolicLink()) {
    throw new Error(`init-plugin: ${link} exists and is not a link (an installed copy?); remove it to link the package dbp-bench runs on`);
  }
  if (st) fs.unlinkSync(link);
  fs.symlinkSync(target, link, type);
}

/** Link the installed packages into `<dir>/node_modules` (see LINKED). */
export function linkInstalledPackages(dir: string): { links: LinkedPackage[]; missing: string[] } {
  const links: LinkedPackage[] = [];
  const missing: string[] = [];
  const nodeModules = path.join(dir, 'node_modules');
  for (const p of LINKED) {
    const found = resolveInstalledPackage(p.name);
    if (!found) {
      if (p.optional) {
        missing.push(p.name);
        continue;
      }
      throw new Error(
        `init-plugin: cannot resolve ${p.name} from the dbp-bench install at ${cliPackageDir()} (is dbp-bench installed completely?)`,
      );
    }
    const link = path.join(nodeModules, ...p.name.split('/'));
    symlink(found.dir, link, 'junction');
    if (p.bin) symlink(path.join('..', ...p.name.split('/'), p.bin[1]), path.join(nodeModules, '.bin', p.bin[0]), 'file');
    links.push({ name: p.name, version: found.version, target: found.dir, link });
  }
  return { links, missing };
}

/**
 * Recreate the node_modules links of a plugin package `init-plugin` wrote (after dbp-bench moved or
 * was reinstalled); refuses a directory without a package.json.
 */
export function relinkPlugin(dir: string): { dir: string; links: LinkedPackage[]; missing: string[] } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(path.join(abs, 'package.json')))
    throw new Error(`init-plugin --link-only: ${abs} has no package.json (expected a plugin package written by init-plugin)`);
  return { dir: abs, ...linkInstalledPackages(abs) };
}

/** Write the plugin package into `o.dir` (see the module comment). Needs a tensor backend (it writes a tiny classifier). */
export function initPlugin(o: InitPluginOptions): InitPluginResult {
  const dir = path.resolve(o.dir);
  const { kind, id, name, template } = checkInitPluginArgs(o);
  checkTarget(dir, Boolean(o.force));
  fs.mkdirSync(dir, { recursive: true });
  // Links first: the versions written into package.json are those of the linked packages.
  const { links, missing } = linkInstalledPackages(dir);
  const version = (n: string): string | undefined => links.find((l) => l.name === n)?.version;
  const runs = template.runs(id);
  const files: [string, string][] = [
    ['package.json', packageJson(name, id, kind, runs, version)],
    ['tsconfig.json', JSON.stringify(TSCONFIG, null, 2) + '\n'],
    ['.gitignore', 'node_modules/\ndist/\nruns/\n'],
    [`src/${kind}/${id}.ts`, template.source(id)],
    ['src/plugins.ts', pluginsTemplate(kind, id)],
    ['src/index.ts', indexTemplate(name)],
    ['README.md', readmeTemplate({ name, id, kind, links, missing, runs, runsReadme: template.runsReadme(id) })],
  ];
  for (const [rel, text] of files) writeFileAtomic(path.join(dir, rel), text);
  writeSyntheticClassifier(path.join(dir, SMOKE.weights));
  for (const r of runs) writeJsonAtomic(path.join(dir, r.file), syntheticRunConfig({ ...SMOKE, ...r.config }));
  return { dir, kind, id, name, files: [...files.map(([f]) => f), SMOKE.weights, ...runs.map((r) => r.file)], links, missing };
}

/** tsconfig.json of the plugin: standalone (extends nothing), strict, CommonJS into dist/. */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2022', 'DOM'],
    module: 'commonjs',
    moduleResolution: 'node10',
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    forceConsistentCasingInFileNames: true,
    declaration: true,
    sourceMap: true,
    types: [],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src/**/*.ts'],
};

/** The generated tsconfig's compiler options (the README snippet test compiles with the same). */
export const PLUGIN_TSCONFIG: Readonly<typeof TSCONFIG> = TSCONFIG;

function packageJson(
  name: string,
  id: string,
  kind: PluginKind,
  runs: readonly SmokeRun[],
  version: (n: string) => string | undefined,
): string {
  const json = {
    name,
    version: '0.1.0',
    private: true,
    description: `A dbp-bench ${kind} plugin: ${id}.`,
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    files: ['dist', 'README.md'],
    scripts: {
      build: 'tsc -p tsconfig.json',
      plugins: 'dbp-bench --plugin . plugins list',
      ...Object.fromEntries(runs.map((r) => [r.script, `dbp-bench run ${r.file} --out runs --entries runs/entries`])),
    },
    peerDependencies: {
      '@dbp-bench/framework': `^${version('@dbp-bench/framework')}`,
      '@tensorflow/tfjs-core': `${version('@tensorflow/tfjs-core')}`,
    },
    ...(version('typescript') ? { devDependencies: { typescript: `~${version('typescript')}` } } : {}),
  };
  return JSON.stringify(json, null, 2) + '\n';
}

function defenseTemplate(id: string): string {
  return `/**
 * The ${id} defense: Gaussian noise of standard deviation \`sigma\`, clipped to [0, 1]. A starting
 * point: replace purify() with your defense. Its default export is the plugin definition; the schema
 * is the only place the options' names, types and defaults are written (\`create\` gets them typed).
 */
import * as tf from '@tensorflow/tfjs-core';
import { definePlugin, type Defense, type NoiseSource } from '@dbp-bench/framework';

const ID = '${id}';

export default definePlugin({
  kind: 'defense',
  id: ID,
  description: 'Gaussian noise (sigma), clipped to [0, 1]',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      sigma: { type: 'number', minimum: 0, maximum: 1, default: 0.25, description: 'noise standard deviation (pixel units)' },
    },
  },
  create: (options): Defense => ({
    id: ID,
    capabilities: {
      // Random when sigma > 0: the runner then requires EoT or a DW-box noise policy.
      stochastic: options.sigma > 0,
      streams: options.sigma > 0 ? ['forward'] : [],
      // purify() is differentiable, so attacks may use the exact gradient (BPDA needs nothing from here).
      gradientModes: ['exact'],
      networkCalls: 0,
    },
    purify: (x: tf.Tensor4D, noise: NoiseSource): tf.Tensor4D =>
      tf.tidy(() => {
        if (options.sigma === 0) return tf.clone(x);
        // Every random number comes from the NoiseSource: that is what lets dbp-bench replay the noise
        // (DW-box), batch EoT replicas, resume and shard runs with identical per-sample results.
        const n = noise.normal({ kind: 'forward' }, x.shape);
        return tf.clipByValue(tf.add<tf.Tensor4D>(x, tf.mul(n, options.sigma)), 0, 1);
      }),
  }),
});
`;
}

/** The import binding of plugin `id` in src/plugins.ts: camelCase + 'Plugin' (`my-defense` -> `myDefensePlugin`). */
function bindingName(id: string): string {
  const words = id.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const camel = words.map((w, i) => (i === 0 ? w[0].toLowerCase() : w[0].toUpperCase()) + w.slice(1)).join('');
  return `${/^[0-9]/.test(camel) ? 'p' : ''}${camel}Plugin`;
}

function attackTemplate(id: string): string {
  return `/**
 * The ${id} attack: one step of size eps along the sign of the loss gradient (FGSM; for l_2 the
 * normalized gradient), the gradient summed over \`eot\` purifications of each image (expectation over
 * transformation). A starting point: replace perturb() with your attack. Its default export is the
 * plugin definition; the schema is the only place the options' names, types and defaults are written.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ascend,
  crossEntropyLoss,
  definePlugin,
  eotRows,
  projectOntoThreat,
  vanishedGradientRows,
  type Attack,
  type AttackContext,
  type AttackTarget,
} from '@dbp-bench/framework';

const ID = '${id}';

export default definePlugin({
  kind: 'attack',
  id: ID,
  description: 'One gradient-sign step of size eps (FGSM) with an EoT gradient',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      norm: { enum: ['linf', 'l2'], default: 'linf', description: 'threat model norm' },
      eps: { type: 'number', exclusiveMinimum: 0, maximum: 16, default: 0.03, description: 'budget in [0, 1] pixel units' },
      eot: { type: 'integer', minimum: 1, maximum: 64, default: 1, description: 'purifications per gradient (EoT samples)' },
    },
  },
  create: (options): Attack => ({
    id: ID,
    threat: { norm: options.norm, eps: options.eps },
    // What the runner reads: it builds the target from policy and gradient and records the rest.
    protocol: () => ({
      policy: 'fresh',
      eotSamples: options.eot,
      steps: 1,
      restarts: 1,
      gradient: 'target',
      stepSize: options.eps,
      requires: { inputGradients: true },
    }),
    perturb: async (target: AttackTarget, x: tf.Tensor4D, y: tf.Tensor1D, ctx: AttackContext): Promise<tf.Tensor4D> =>
      tf.tidy(() => {
        // Row r of the EoT batch is replica (r mod eot) of image floor(r / eot): its own noise.
        const rows = eotRows(ctx.sampleIndices, options.eot);
        const image = tf.tensor1d(rows.map((_, r) => Math.floor(r / options.eot)), 'int32');
        const loss = (xx: tf.Tensor): tf.Scalar => tf.sum(crossEntropyLoss(target.logits(tf.gather(xx as tf.Tensor4D, image), rows), tf.gather(y, image)));
        const g = tf.grad(loss)(x) as tf.Tensor4D;
        ctx.reportDiagnostics?.({ gradientVanished: vanishedGradientRows(g), stepSize: options.eps });
        return projectOntoThreat(ascend(x, g, options.norm, options.eps), x, options.norm, options.eps);
      }),
  }),
});
`;
}

function pluginsTemplate(kind: PluginKind, id: string): string {
  const binding = bindingName(id);
  return `/**
 * The registration list: every plugin file of this package (\`src/<kind>/<id>.ts\`, each
 * default-exporting its definition) and register(), which dbp-bench calls when it loads the package.
 */
import type { PluginDefinition, PluginRegistry } from '@dbp-bench/framework';
import ${binding} from './${kind}/${id}';

export const PLUGINS: readonly PluginDefinition[] = [${binding}];

export function register(registry: PluginRegistry): void {
  for (const p of PLUGINS) registry.add(p);
}
`;
}

function indexTemplate(name: string): string {
  return `/** The plugin package: dbp-bench loads it (\`--plugin <dir>\` or a run config's \`plugins\`) and calls plugin.register. */
import type { PluginModule } from '@dbp-bench/framework';
import { register } from './plugins';

export { PLUGINS, register } from './plugins';

export const plugin: PluginModule = { name: '${name}', register };
`;
}

function readmeTemplate(o: {
  name: string;
  id: string;
  kind: PluginKind;
  links: LinkedPackage[];
  missing: string[];
  runs: readonly SmokeRun[];
  runsReadme: string;
}): string {
  const links = o.links.map((l) => `- \`node_modules/${l.name}\` (${l.version})`).join('\n');
  const tsc = o.missing.includes('typescript')
    ? '\nTypeScript was not found next to dbp-bench, so `node_modules/typescript` is not linked: install a\ncompiler (`npm install --save-dev typescript`, needs the network) or run a `tsc` you have (`tsc -p .`).\n'
    : '';
  return `# ${o.name}

A dbp-bench ${o.kind} plugin, \`${o.id}\`, written by \`dbp-bench init-plugin\`.

## Layout
- \`src/${o.kind}/${o.id}.ts\`: the plugin. Its default export is
  \`definePlugin({ kind, id, description, schema, create })\`; the JSON Schema is the only home of the
  option names, types and defaults (dbp-bench validates a config's options against it, fills the
  defaults and passes them to \`create\`, typed from the schema).
- \`src/plugins.ts\`: the registration list (\`PLUGINS\`, \`register(registry)\`). Add a plugin as
  another \`src/<kind>/<id>.ts\` and list it here.
- \`src/index.ts\`: exports \`register\` and \`plugin = { name, register }\`, which dbp-bench calls.
- ${o.runsReadme} Their numbers check that everything runs, nothing more: for real numbers point a
  config at a real dataset and trained weights.

## Build, list, benchmark
\`\`\`sh
npm run build            # tsc -p tsconfig.json -> dist/
npm run plugins          # dbp-bench --plugin . plugins list: ${o.id} is listed
${o.runs.map((r, i) => `npm run ${r.script.padEnd(16)} # dbp-bench run ${r.file}${i === 0 ? ' (the config loads this package: "plugins": ["."])' : ' (the baseline)'}`).join('\n')}
\`\`\`
Without npm: \`node node_modules/typescript/bin/tsc -p .\`, then
\`node node_modules/@dbp-bench/cli/bin/dbp-bench.js run run.json\`. A changed and rebuilt plugin changes
the run's identity: rerun with \`--restart\` (dbp-bench refuses to resume a run whose plugin changed).

## How this package finds dbp-bench (offline)
\`node_modules\` holds symbolic links, made by \`init-plugin\`, to the packages of the dbp-bench install
that wrote this folder:
${links}
${tsc}
They are links, not copies, on purpose. Node resolves a link to its real path, so when dbp-bench loads
this plugin, \`require('@tensorflow/tfjs-core')\` here returns the very module dbp-bench runs on: one
engine, one registered backend, tensors that pass between the two. A second copy of tfjs-core would
have no backend and its tensors would not be dbp-bench's. The compiler follows the links the same way,
so the types are those of the installed packages. (A tsconfig \`paths\` mapping alone would satisfy the
compiler but not \`require\` at run time.) Nothing is fetched from the network.

If dbp-bench moves or is reinstalled, recreate the links with
\`dbp-bench init-plugin <this folder> --link-only\`. Don't run \`npm install\` here unless the
@dbp-bench packages are published to your registry: it would replace the links with copies from the
registry (the peerDependencies), and it fails where they are not published.

The definitions are typed by \`@dbp-bench/framework\`'s \`definePlugin\`: when dbp-bench changes that
API, rebuild and follow the compiler.
`;
}

/** `dbp-bench init-plugin <dir>`. */
export const addInitPluginCommand: AddCommand = (program, context) => {
  program
    .command('init-plugin <dir>')
    .description(
      'write a plugin package (package.json, tsconfig, src/<kind>/<id>.ts, a smoke-benchmark run config) linked to this install, offline',
    )
    .option('--kind <kind>', `plugin kind (templates: ${INIT_PLUGIN_KINDS.join(', ')})`, 'defense')
    .option('--id <id>', 'plugin id (default my-<kind>)')
    .option('--name <package-name>', 'npm package name (default dbp-bench-plugin-<id>)')
    .option('--force', "write into a non-empty directory, overwriting the scaffold's files")
    .option('--link-only', 'only (re)create the node_modules links of an existing plugin package')
    .action(async (dir: string, opts: { kind: string; id?: string; name?: string; force?: boolean; linkOnly?: boolean }) => {
      const ctx = context();
      const linked = (r: { dir: string; links: LinkedPackage[]; missing: string[] }): void => {
        ctx.out(
          `linked into ${path.join(r.dir, 'node_modules')}:\n${r.links.map((l) => `  ${l.name} ${l.version} -> ${l.target}`).join('\n')}`,
        );
        if (r.missing.length) ctx.err(`not found next to dbp-bench (not linked): ${r.missing.join(', ')}; see the plugin's README`);
      };
      if (opts.linkOnly) {
        linked(relinkPlugin(dir));
        return;
      }
      // Check the arguments and the directory before starting the backend.
      checkInitPluginArgs({ ...opts, registry: ctx.registry() });
      checkTarget(path.resolve(dir), Boolean(opts.force));
      await ctx.backend();
      const r = initPlugin({ dir, ...opts, registry: ctx.registry() });
      ctx.out(`wrote ${r.kind} plugin '${r.id}' (package ${r.name}) in ${r.dir}:\n${r.files.map((f) => `  ${f}`).join('\n')}`);
      linked(r);
      ctx.out(`next: cd ${dir} && npm run build && npm run plugins && npm run bench`);
    });
};
