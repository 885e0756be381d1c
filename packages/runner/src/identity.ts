/**
 * The identity of a run's inputs beyond its config: the sha256 of every file the config names whose
 * content changes results (the classifier weights, and every plugin option the plugin's schema
 * declares a file with `x-dbp-file`), and the identity of every module that served the run (package
 * name, version, and a hash of its built files). It is written into every journal header and into
 * run.json; a rerun whose identity differs from its journal's refuses to resume (naming what
 * changed) unless `--restart` is given, and `merge` refuses journals of different identities.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DbpError,
  fileOptions,
  nearestPackageJson,
  sha256File,
  type DeepReadonly,
  type PluginKind,
  type PluginRegistry,
} from '@dbp-bench/framework';
import type { RunConfig } from './config';
import { BUILD_INFO_FILE } from './provenance';

/** A file whose content changes results. */
export interface IdentityFile {
  /** Where the config names it: `classifier.weights`, `defense.options.weights`, `attacks[1].options.table`. */
  role: string;
  /** The path as written in the config. */
  path: string;
  /** sha256 of the content; null when the file does not exist. */
  sha256: string | null;
}

/** A module (package) that served the run. */
export interface IdentityModule {
  /** Package name (or the module spec when it has no package.json). */
  name: string;
  version: string | null;
  /** sha256 over the package's built files (relative path + content hash of each); null when the module file is unknown. */
  sha256: string | null;
  /** Number of files hashed. */
  files: number;
  /** What it served: `runner`, `defense:dp-ddpm`, `attack:pgd`, ... */
  serves: string[];
}

export interface RunIdentity {
  files: IdentityFile[];
  modules: IdentityModule[];
}

/** A rerun whose inputs differ from those its journal was computed with. */
export class RunChangedError extends DbpError {
  readonly changes: string[];
  constructor(
    where: string,
    changes: string[],
    what = "holds records computed with other inputs than this run's; results would mix",
    hint = "Rerun with --restart to discard this shard's records and start over (or use another --out).",
  ) {
    super('E_RUN_CHANGED', `${where} ${what}:\n  - ${changes.join('\n  - ')}\n${hint}`);
    this.changes = changes;
  }
}

/** File extensions of built code and data that are hashed into a module's identity. */
export const BUILT_FILE_EXTENSIONS: readonly string[] = ['.js', '.cjs', '.mjs', '.json', '.wasm', '.node'];
const MAX_MODULE_FILES = 20000;
/** Metadata, not code: the package manifest and the commit file (provenance.ts). */
const NOT_HASHED: readonly string[] = ['package.json', BUILD_INFO_FILE];

function listFiles(root: string, rel: string, out: string[]): void {
  const abs = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return;
  }
  if (st.isFile()) {
    if (BUILT_FILE_EXTENSIONS.includes(path.extname(abs)) && !NOT_HASHED.includes(path.basename(abs))) out.push(rel);
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of fs.readdirSync(abs).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    if (out.length > MAX_MODULE_FILES) return;
    listFiles(root, rel ? path.join(rel, name) : name, out);
  }
}

interface ModuleHash {
  name: string;
  version: string | null;
  sha256: string | null;
  files: number;
  root: string;
}

const moduleCache = new Map<string, ModuleHash>();

/**
 * Name, version and built-files hash of the package that contains `file` (cached per process and
 * package). The built files are those under the package.json `files` entries (else the directory of
 * `file`), with the extensions of BUILT_FILE_EXTENSIONS, without node_modules and dot-directories,
 * package.json and build-info.json excluded. A module file outside any package is hashed alone.
 */
export function moduleIdentity(file: string): ModuleHash {
  const resolved = path.resolve(file);
  const pkg = nearestPackageJson(resolved);
  const root = pkg?.dir ?? resolved;
  const cached = moduleCache.get(root);
  if (cached) return cached;
  let rels: string[] = [];
  let base = root;
  if (!pkg) {
    base = path.dirname(resolved);
    rels = [path.basename(resolved)];
  } else {
    const files = pkg.json?.files;
    const plain = Array.isArray(files) && files.every((f) => typeof f === 'string' && !/[*?[\]{}!]/.test(f));
    if (plain) for (const f of files as string[]) listFiles(root, path.normalize(f).replace(/[\\/]+$/, ''), rels);
    else listFiles(root, path.relative(root, path.dirname(resolved)), rels);
  }
  rels = [...new Set(rels)].sort();
  let sha: string | null = null;
  if (rels.length <= MAX_MODULE_FILES) {
    const h = createHash('sha256');
    for (const rel of rels)
      h.update(
        `${rel.split(path.sep).join('/')}\0${createHash('sha256')
          .update(fs.readFileSync(path.join(base, rel)))
          .digest('hex')}\n`,
      );
    sha = h.digest('hex');
  }
  const name = typeof pkg?.json?.name === 'string' ? (pkg.json.name as string) : path.basename(resolved);
  const version = typeof pkg?.json?.version === 'string' ? (pkg.json.version as string) : null;
  const out: ModuleHash = { name, version, sha256: sha, files: rels.length, root };
  moduleCache.set(root, out);
  return out;
}

/** Forget cached module hashes (tests that rebuild a module in the same process). */
export function clearModuleIdentityCache(): void {
  moduleCache.clear();
}

/** A module that served the run: its file when known, else only its package name. */
export interface ServingModule {
  name: string;
  file?: string;
  serves: string;
}

/** The modules behind the plugins a config uses (from the registry's registrations). */
export function pluginModules(registry: PluginRegistry, config: DeepReadonly<RunConfig>): ServingModule[] {
  const used: [PluginKind, string][] = [
    ['dataset', config.dataset.id],
    ['defense', config.defense.id],
    ...config.attacks.map((a) => ['attack', a.id] as [PluginKind, string]),
  ];
  return used.map(([kind, id]) => {
    const r = registry.registration(kind, id);
    return { name: r.package, ...(r.module ? { file: r.module } : {}), serves: `${kind}:${id}` };
  });
}

/** The files of a config whose content changes results: classifier weights, then plugin file options. */
export function configFiles(registry: PluginRegistry, config: DeepReadonly<RunConfig>): { role: string; path: string }[] {
  const out = [{ role: 'classifier.weights', path: config.classifier.weights }];
  const slot = (kind: PluginKind, id: string, options: unknown, at: string): void => {
    for (const f of fileOptions(registry.get(kind, id).schema, options))
      if (f.value) out.push({ role: `${at}.options.${f.path}`, path: f.value });
  };
  slot('dataset', config.dataset.id, config.dataset.options, 'dataset');
  slot('defense', config.defense.id, config.defense.options, 'defense');
  config.attacks.forEach((a, k) => slot('attack', a.id, a.options, `attacks[${k}]`));
  return out;
}

/** Hash the config's files (resolved against `baseDir`) and the serving modules. */
export async function computeRunIdentity(
  files: readonly { role: string; path: string }[],
  modules: readonly ServingModule[],
  baseDir: string,
): Promise<RunIdentity> {
  const hashed: IdentityFile[] = [];
  for (const f of files) {
    const abs = path.resolve(baseDir, f.path);
    const ok = fs.existsSync(abs) && fs.statSync(abs).isFile();
    hashed.push({ role: f.role, path: f.path, sha256: ok ? await sha256File(abs) : null });
  }
  const byKey = new Map<string, IdentityModule>();
  for (const m of modules) {
    const id = m.file ? moduleIdentity(m.file) : undefined;
    const key = id ? `file:${id.root}` : `name:${m.name}`;
    const prev = byKey.get(key);
    if (prev) {
      if (!prev.serves.includes(m.serves)) prev.serves.push(m.serves);
      continue;
    }
    byKey.set(
      key,
      id
        ? { name: id.name, version: id.version, sha256: id.sha256, files: id.files, serves: [m.serves] }
        : { name: m.name, version: null, sha256: null, files: 0, serves: [m.serves] },
    );
  }
  return { files: hashed, modules: [...byKey.values()] };
}

const short = (s: string | null | undefined): string => (s ? s.slice(0, 12) : 'missing');

/**
 * What differs between the identity a journal was computed with (`prev`) and this run's (`cur`), one
 * line each; empty when they agree. Module `serves` lists and file paths are not compared (paths may
 * differ between hosts; the content hash decides).
 */
export function identityChanges(prev: RunIdentity | undefined, cur: RunIdentity): string[] {
  if (!prev) return ['the journal records no input identity (written by an older dbp-bench): weights and plugin modules cannot be checked'];
  const out: string[] = [];
  const prevFiles = new Map(prev.files.map((f) => [f.role, f]));
  for (const f of cur.files) {
    const p = prevFiles.get(f.role);
    prevFiles.delete(f.role);
    if (!p) out.push(`${f.role} '${f.path}' (sha256 ${short(f.sha256)}) was not an input of the journaled records`);
    else if (p.sha256 !== f.sha256)
      out.push(
        `${f.role} '${f.path}' changed: sha256 ${short(p.sha256)} -> ${short(f.sha256)}${p.path !== f.path ? ` (was '${p.path}')` : ''}`,
      );
  }
  for (const p of prevFiles.values())
    out.push(`${p.role} '${p.path}' (sha256 ${short(p.sha256)}) was an input of the journaled records and is not one now`);
  const prevMods = new Map(prev.modules.map((m) => [m.name, m]));
  for (const m of cur.modules) {
    const p = prevMods.get(m.name);
    prevMods.delete(m.name);
    if (!p)
      out.push(
        `plugin module '${m.name}'${m.version ? ` ${m.version}` : ''} (serving ${m.serves.join(', ')}) did not serve the journaled records`,
      );
    else if (p.version !== m.version || p.sha256 !== m.sha256) {
      const what = [
        p.version !== m.version ? `version ${p.version ?? 'unknown'} -> ${m.version ?? 'unknown'}` : '',
        p.sha256 !== m.sha256 ? `built files sha256 ${short(p.sha256)} -> ${short(m.sha256)}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      out.push(`plugin module '${m.name}' (serving ${m.serves.join(', ')}) changed: ${what}`);
    }
  }
  for (const p of prevMods.values())
    out.push(`plugin module '${p.name}'${p.version ? ` ${p.version}` : ''} served the journaled records and does not serve this run`);
  return out;
}

/** True when two identities agree on everything identityChanges compares. */
export function sameIdentity(a: RunIdentity | undefined, b: RunIdentity | undefined): boolean {
  if (!a || !b) return !a && !b;
  return identityChanges(a, b).length === 0;
}
