/**
 * The plugin registry. Each plugin package exports `register(registry)`, which adds its plugins under
 * their ids; a duplicate id throws, an unknown id lists the registered ones. Each run gets a RunScope
 * (its logger and base directory) in which its plugins are created with validated options.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DuplicatePluginError, PluginLoadError, UnknownPluginError, UnknownPluginKindError } from './errors';
import type { DeepReadonly } from './json';
import { silentLogger, type Logger } from './logger';
import { validateSchema, type JsonSchema } from './schema';

export type PluginKind = 'dataset' | 'architecture' | 'defense' | 'attack' | 'trainer';
export const PLUGIN_KINDS: readonly PluginKind[] = ['dataset', 'architecture', 'defense', 'attack', 'trainer'];

/** `kind` as a PluginKind, or an error naming the kinds (a plural such as `defenses` gets a did-you-mean). */
export function checkPluginKind(kind: string): asserts kind is PluginKind {
  if (!(PLUGIN_KINDS as readonly string[]).includes(kind)) throw new UnknownPluginKindError(kind, PLUGIN_KINDS);
}

/** What a plugin's create() receives besides its options. */
export interface PluginContext {
  readonly logger: Logger;
  readonly registry: PluginRegistry;
  /** Resolve a path from a config relative to the config file's directory. */
  resolvePath(p: string): string;
}

/** A plugin: an id, a description, a JSON Schema for its options (with defaults) and a factory. */
export interface PluginDefinition<T = unknown> {
  readonly kind: PluginKind;
  readonly id: string;
  /** One line for `dbp-bench plugins list`. */
  readonly description: string;
  /** JSON Schema of the options object; `default` keywords fill missing fields. */
  readonly schema: JsonSchema;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  create(options: any, ctx: PluginContext): T | Promise<T>;
}

/** The class form of a plugin: static id/kind/description/schema, constructed with (options, ctx). */
export interface PluginClass<T = unknown> {
  readonly kind: PluginKind;
  readonly id: string;
  readonly description: string;
  readonly schema: JsonSchema;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  new (options: any, ctx: PluginContext): T;
}

export interface RegisteredPlugin {
  readonly kind: PluginKind;
  readonly id: string;
  readonly description: string;
  readonly schema: JsonSchema;
  /** The package (or module path) that registered it. */
  readonly package: string;
  /**
   * The module file that registered it, when known (`load()` records the resolved file; `use()` the
   * file it is given). The benchmark runner hashes the package around it into the run identity.
   */
  readonly module?: string;
  /**
   * The source file that defines the plugin, when found: the loaded module that exports its
   * definition (or class) — as its default export, else as its own named export —, a compiled
   * `dist/**.js` mapped to the `**.ts` beside `dist` when that exists. Falls back to `module`.
   */
  readonly file?: string;
}

/** What a plugin module exports. */
export interface PluginModule {
  /** Package name shown in `plugins list`; defaults to the module spec. */
  readonly name?: string;
  register(registry: PluginRegistry): void;
}

const pluginToken = (kind: PluginKind, id: string): string => `dbp.plugin.${kind}.${id}`;

export class PluginRegistry {
  private readonly plugins = new Map<string, RegisteredPlugin & { def: PluginDefinition }>();
  private currentPackage = '(anonymous)';
  private currentModule: string | undefined;
  private readonly loadedModules = new Set<string>();

  /**
   * Run `register` with `packageName` recorded as the owner of what it adds, and `moduleFile` (the
   * module's resolved file, e.g. `require.resolve(name)`) as where it came from.
   */
  use(mod: PluginModule, packageName = mod.name ?? '(anonymous)', moduleFile?: string): this {
    const prev = this.currentPackage;
    const prevModule = this.currentModule;
    this.currentPackage = packageName;
    this.currentModule = moduleFile;
    try {
      mod.register(this);
    } finally {
      this.currentPackage = prev;
      this.currentModule = prevModule;
    }
    return this;
  }

  /** Add a plugin (definition object or class). Throws DuplicatePluginError on an id clash within its kind. */
  add(plugin: PluginDefinition | PluginClass): this {
    const def: PluginDefinition =
      typeof plugin === 'function'
        ? {
            kind: plugin.kind,
            id: plugin.id,
            description: plugin.description,
            schema: plugin.schema,
            create: (options, ctx) => new plugin(options, ctx),
          }
        : plugin;
    for (const field of ['kind', 'id', 'description', 'schema'] as const) {
      if (def[field] === undefined || def[field] === null || def[field] === '') {
        throw new PluginLoadError(this.currentPackage, `plugin '${def.id ?? '?'}' has no ${field}`);
      }
    }
    const key = pluginToken(def.kind, def.id);
    const existing = this.plugins.get(key);
    if (existing) throw new DuplicatePluginError(def.kind, def.id, existing.package, this.currentPackage);
    const file = definingFile(plugin) ?? this.currentModule;
    const entry = {
      kind: def.kind,
      id: def.id,
      description: def.description,
      schema: def.schema,
      package: this.currentPackage,
      ...(this.currentModule ? { module: this.currentModule } : {}),
      ...(file ? { file } : {}),
      def,
    };
    this.plugins.set(key, entry);
    return this;
  }

  has(kind: PluginKind, id: string): boolean {
    return this.plugins.has(pluginToken(kind, id));
  }

  ids(kind: PluginKind): string[] {
    return this.list(kind).map((p) => p.id);
  }

  list(kind?: PluginKind): RegisteredPlugin[] {
    return [...this.plugins.values()]
      .filter((p) => !kind || p.kind === kind)
      .map(({ def: _def, ...rest }) => rest)
      .sort((a, b) => (a.kind === b.kind ? a.id.localeCompare(b.id) : PLUGIN_KINDS.indexOf(a.kind) - PLUGIN_KINDS.indexOf(b.kind)));
  }

  /** The registration record of plugin `id` of `kind` (package, module file); throws UnknownPluginError. */
  registration(kind: PluginKind, id: string): RegisteredPlugin {
    checkPluginKind(kind);
    const p = this.plugins.get(pluginToken(kind, id));
    if (!p) throw new UnknownPluginError(kind, id, this.ids(kind));
    const { def: _def, ...rest } = p;
    return rest;
  }

  get(kind: PluginKind, id: string): PluginDefinition {
    checkPluginKind(kind);
    const p = this.plugins.get(pluginToken(kind, id));
    if (!p) throw new UnknownPluginError(kind, id, this.ids(kind));
    return p.def;
  }

  /** Validate options against the plugin's schema (defaults filled, frozen). */
  options<O = Record<string, unknown>>(kind: PluginKind, id: string, options: unknown): DeepReadonly<O> {
    return validateSchema<O>(this.get(kind, id).schema, options ?? {}, `options of ${kind} '${id}'`);
  }

  /** The scope of one run, with its logger and base directory. */
  createScope(opts: { logger?: Logger; baseDir?: string } = {}): RunScope {
    return new RunScope(this, opts.logger ?? silentLogger, opts.baseDir ?? process.cwd());
  }

  /**
   * Load a researcher's plugin module by package name or path (relative to `baseDir`) and call its
   * register(). Accepts `module.exports = { register }`, a default export with register, or a
   * `plugin` export. Loading the same module twice is a no-op.
   */
  load(spec: string, baseDir = process.cwd()): this {
    const isPath = spec.startsWith('.') || spec.startsWith('/') || /^[A-Za-z]:[\\/]/.test(spec);
    const target = isPath ? path.resolve(baseDir, spec) : spec;
    if (isPath && !fs.existsSync(target)) {
      throw new PluginLoadError(spec, `no file or directory at ${target}`);
    }
    let resolved: string;
    const req = createRequire(path.join(baseDir, 'noop.js'));
    try {
      resolved = req.resolve(target);
    } catch (cause) {
      throw new PluginLoadError(
        spec,
        `module not found from ${baseDir} (install it, or give a path; a TypeScript plugin must be built first)`,
        { cause },
      );
    }
    if (this.loadedModules.has(resolved)) return this;
    let mod: unknown;
    try {
      mod = req(resolved);
    } catch (cause) {
      throw new PluginLoadError(spec, `it threw while loading: ${(cause as Error).message}`, { cause });
    }
    const m = mod as Record<string, unknown> | undefined;
    const candidates = [m?.plugin, m?.default, m] as (Partial<PluginModule> | undefined)[];
    const found = candidates.find((c) => c && typeof c.register === 'function');
    if (!found) {
      throw new PluginLoadError(
        spec,
        `it exports no register(registry) function (expected module.exports.register, a default export with register, or export const plugin = { register })`,
      );
    }
    this.loadedModules.add(resolved);
    return this.use(found as PluginModule, found.name ?? packageNameOf(resolved) ?? spec, resolved);
  }
}

/**
 * The file of the loaded CommonJS module that exports `value` (a plugin definition or class): one
 * whose default export it is, else one holding it as an own data property (`export const x = ...`;
 * re-exports such as `export * from` are getters, so an index re-exporting it is not taken). A
 * compiled `<pkg>/dist/<p>.js` is mapped to `<pkg>/<p>.ts` when that source file exists.
 */
export function definingFile(value: unknown): string | undefined {
  const cache = typeof require === 'function' ? require.cache : undefined;
  if (!cache || value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const modules: [string, Record<string, unknown>][] = [];
  for (const [file, mod] of Object.entries(cache)) {
    const exp = mod?.exports as Record<string, unknown> | undefined;
    if (exp && (typeof exp === 'object' || typeof exp === 'function')) modules.push([file, exp]);
  }
  // First the module whose default export it is (one property per module: cheap), then an own named export.
  for (const [file, exp] of modules) {
    const d = Object.getOwnPropertyDescriptor(exp, 'default');
    if (d && 'value' in d && d.value === value) return sourceOf(file);
  }
  for (const [file, exp] of modules) {
    if (exp === value) return sourceOf(file);
    for (const key of Object.keys(exp)) {
      const d = Object.getOwnPropertyDescriptor(exp, key);
      if (d && 'value' in d && d.value === value) return sourceOf(file);
    }
  }
  return undefined;
}

/**
 * The TypeScript source of a compiled file when it exists, else `file`: `<pkg>/dist/<p>.js` ->
 * `<pkg>/<p>.ts` (rootDir `.`, as in this repository) or `<pkg>/src/<p>.ts` (rootDir `src`, as in a
 * scaffolded plugin).
 */
function sourceOf(file: string): string {
  const parts = file.split(path.sep);
  const i = parts.lastIndexOf('dist');
  if (i < 0 || !file.endsWith('.js')) return file;
  for (const root of [[], ['src']]) {
    const ts = [...parts.slice(0, i), ...root, ...parts.slice(i + 1)].join(path.sep).replace(/\.js$/, '.ts');
    if (fs.existsSync(ts)) return ts;
  }
  return file;
}

/** The package.json nearest above `file` (its directory and parsed content; `json` is null when unreadable), if any. */
export function nearestPackageJson(file: string): { dir: string; json: Record<string, unknown> | null } | undefined {
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        return { dir, json: JSON.parse(fs.readFileSync(pj, 'utf8')) as Record<string, unknown> };
      } catch {
        return { dir, json: null };
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The `name` of the package.json nearest above `file`, if any. */
function packageNameOf(file: string): string | undefined {
  const name = nearestPackageJson(file)?.json?.name;
  return typeof name === 'string' ? name : undefined;
}

/** One run's scope. Plugins are created here, each by its own create(), so runs never share state. */
export class RunScope implements PluginContext {
  constructor(
    readonly registry: PluginRegistry,
    readonly logger: Logger,
    /** Directory relative paths in configs are resolved against. */
    readonly baseDir: string,
  ) {}
  resolvePath(p: string): string {
    return path.resolve(this.baseDir, p);
  }
  /** Create plugin `id` of `kind` with validated options. */
  async create<T>(kind: PluginKind, id: string, options?: unknown): Promise<T> {
    const def = this.registry.get(kind, id);
    const opts = this.registry.options(kind, id, options);
    return (await def.create(opts, this)) as T;
  }
}
