/**
 * Reading the files a user names (configs, weights, data, entries) with errors that name the path
 * and say what was expected, and the size limits dbp-bench puts on what it reads (docs/SECURITY.md,
 * "Resource limits"). Every reader of a user-named file goes through `readFileChecked` (or
 * `statChecked` first), so EISDIR, ENOENT, EACCES and the like never surface without their path.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { ConfigValidationError, DataFormatError, FileAccessError, LimitExceededError, MissingFileError } from './errors';

const MiB = 1024 * 1024;

/**
 * A number for people: 4 significant digits, exponent notation below 1e-3 or from 1e5 on, so that a small
 * value is never printed as 0 (`1.234e-4`, not `0.000`). Non-finite values as JavaScript prints them.
 */
export function formatNumber(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(Math.max(0, digits - 1));
  return String(Number(v.toPrecision(digits)));
}

/** A byte count for people: `1.6 MB`, `170.5 MB`, `512 B` (decimal units, three significant digits at most one decimal). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return `${n} B`;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let u = 0;
  let v = n;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/**
 * The limits on inputs. Each one is far above what a genuine input needs (the reason is given for
 * each) and far below what would exhaust a machine.
 */
export const LIMITS = Object.freeze({
  /** Run configs, training configs, `--config` files: 1 MiB (the largest shipped config is ~2 KB; an explicit index list of 10,000 test images is ~60 KB). */
  configBytes: 1 * MiB,
  /** A leaderboard entry file: 4 MiB (measured entries are ~10-30 KB; per-sample results live in a separate file). */
  entryBytes: 4 * MiB,
  /** Nesting depth of a JSON document: 64 (configs and entries nest at most ~8 deep). */
  jsonDepth: 64,
  /** Free text (descriptions, notes, footnotes): 10,000 characters. */
  textChars: 10_000,
  /** Names and labels (run name, model name, attack label): 200 characters (the entry id limit). */
  nameChars: 200,
  /** Paths written in a config (weights, plugin modules, output directory): 4,096 characters (PATH_MAX on Linux). */
  pathChars: 4096,
  /**
   * Compressed data (deflated zip entries, gzip files) inflates to at most max(inflateMinBytes,
   * inflateRatio x its compressed size), and never past inflateMaxBytes. 50x: float weights deflate
   * to ~90% of their size and MNIST's IDX files to ~20%; only degenerate data (a decompression bomb)
   * deflates further.
   */
  inflateRatio: 50,
  /** See inflateRatio: 64 MiB. */
  inflateMinBytes: 64 * MiB,
  /** See inflateRatio: 2 GiB, the largest file Node reads into one buffer. */
  inflateMaxBytes: 2048 * MiB,
  /** Entries of a zip archive (a `torch.save` archive has one per tensor storage plus ~4): 100,000. */
  zipEntries: 100_000,
  /** Values a pickle may create (a state dict of a few thousand tensors needs ~100,000): 2,000,000. */
  pickleObjects: 2_000_000,
  /** Bytes of one pickled integer (LONG1 / LONG4 / LONG; checkpoints hold 64-bit sizes and a 10-byte magic number): 1,024. */
  pickleLongBytes: 1024,
  /**
   * The tensors of a checkpoint decode (as float32) to at most this many times the bytes of the
   * storages they view, plus inflateMinBytes: 4x (float16 storages double; tied weights view one
   * storage twice). Only overlapping views could reach more.
   */
  tensorExpansion: 4,
  /** Files extracted from a dataset archive (Tiny-ImageNet, the largest, has ~120,000): 250,000. */
  archiveEntries: 250_000,
  /** Bytes extracted from a dataset archive, as a multiple of the archive's size (CIFAR ~1.1x, Tiny-ImageNet ~1x), at least inflateMinBytes: 8x. */
  archiveRatio: 8,
});

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Turn an error of `fs` about `file` into a dbp-bench error naming the path and what was expected
 * (`what`, e.g. 'a run config (JSON)'). Non-fs errors are returned unchanged.
 */
export function fileError(cause: unknown, file: string, what: string): Error {
  const code = errnoOf(cause);
  switch (code) {
    case 'ENOENT':
      return new MissingFileError(file, `expected ${what}`, { cause });
    case 'ENOTDIR':
      return new MissingFileError(file, `a component of the path is not a directory; expected ${what}`, { cause });
    case 'EISDIR':
      return new DataFormatError(file, `is a directory, expected ${what}`, { cause });
    case 'EACCES':
    case 'EPERM':
      return new FileAccessError(file, `permission denied (${code}) reading ${what}`, { cause });
    case 'ELOOP':
      return new FileAccessError(file, `too many levels of symbolic links (ELOOP); expected ${what}`, { cause });
    case 'ENAMETOOLONG':
      return new FileAccessError(file, `the path is too long (ENAMETOOLONG); expected ${what}`, { cause });
    case 'ERR_FS_FILE_TOO_LARGE':
      return new LimitExceededError(file, `is larger than 2 GiB, the largest file dbp-bench reads into memory (${what})`);
    case undefined:
      return cause instanceof Error ? cause : new Error(String(cause));
    default:
      return new FileAccessError(file, `cannot read ${what}: ${code} ${(cause as Error).message ?? ''}`.trim(), { cause });
  }
}

/** `fs.statSync` of a path that must be a regular file; errors name the path (see fileError). */
export function statFileChecked(file: string, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (cause) {
    throw fileError(cause, file, what);
  }
  if (st.isDirectory()) throw new DataFormatError(file, `is a directory, expected ${what}`);
  if (!st.isFile()) throw new DataFormatError(file, `is not a regular file (a device, socket or pipe), expected ${what}`);
  return st;
}

/** `fs.statSync` of a path that must be a directory; errors name the path. */
export function statDirChecked(dir: string, what: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch (cause) {
    throw fileError(cause, dir, what);
  }
  if (!st.isDirectory()) throw new DataFormatError(dir, `is a file, expected ${what}`);
  return st;
}

/**
 * Read a whole user-named file. Refuses a directory, a non-regular file and, with `maxBytes`, a file
 * larger than the limit (checked before reading), each with an error naming the path and `what`.
 */
export function readFileChecked(file: string, what: string, opts: { maxBytes?: number; limitName?: string } = {}): Buffer {
  const st = statFileChecked(file, what);
  if (opts.maxBytes !== undefined && st.size > opts.maxBytes) {
    throw new LimitExceededError(
      file,
      `is ${st.size} bytes; ${what} may be at most ${opts.maxBytes} bytes${opts.limitName ? ` (${opts.limitName})` : ''}`,
    );
  }
  try {
    return fs.readFileSync(file);
  } catch (cause) {
    throw fileError(cause, file, what);
  }
}

/** readFileChecked as UTF-8 text (a leading byte-order mark is dropped). */
export function readTextChecked(file: string, what: string, opts: { maxBytes?: number; limitName?: string } = {}): string {
  const text = readFileChecked(file, what, opts).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parse JSON text from `file`, refusing nesting deeper than `LIMITS.jsonDepth` and numbers that
 * overflow to ±Infinity (e.g. `1e999`, which JSON.stringify would silently turn into null). Errors
 * name the file and, for a bad number, its JSON path: a ConfigValidationError for `kind` 'config'
 * (a document the user writes), else a DataFormatError.
 */
export function parseJsonChecked(text: string, file: string, kind: 'config' | 'data' = 'data'): unknown {
  const fail = (problem: string, cause?: unknown): Error =>
    kind === 'config' ? new ConfigValidationError(file, [problem], { cause }) : new DataFormatError(file, problem, { cause });
  const depth = jsonNestingDepth(text);
  if (depth > LIMITS.jsonDepth)
    throw new LimitExceededError(file, `JSON nests ${depth} levels deep; at most ${LIMITS.jsonDepth} are allowed`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw fail(`not valid JSON: ${jsonSyntaxProblem(text, (cause as Error).message)}`, cause);
  }
  const bad = firstNonFinite(value);
  if (bad) throw fail(`${bad}: the number overflows a double (it would be read as Infinity)`);
  return value;
}

/**
 * A JSON.parse message with the line and column of its position and the offending line with a caret:
 * `Expected ',' or '}' after property value at line 3, column 13:\n    "seed": 0,,\n              ^`.
 */
export function jsonSyntaxProblem(text: string, message: string): string {
  const m = /(?: in JSON)? at position (\d+)(?: \(line \d+ column \d+\))?/.exec(message);
  if (!m) return message;
  const pos = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const column = pos - lineStart + 1;
  const lineEnd = text.indexOf('\n', pos);
  const source = text.slice(lineStart, lineEnd === -1 ? text.length : lineEnd).replace(/\r$/, '');
  const shown = source.length > 120 ? source.slice(Math.max(0, column - 60), column + 60) : source;
  const caret = source.length > 120 ? Math.min(column - 1, 59) : column - 1;
  return `${message.slice(0, m.index)}${message.slice(m.index + m[0].length)} at line ${line}, column ${column}:\n      ${shown}\n      ${' '.repeat(caret)}^`;
}

/** Maximum nesting of `[`/`{` in JSON text, ignoring brackets inside strings; one pass, no recursion. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/** The JSON path (`$.a[0].b`) of the first number in `value` that is NaN or ±Infinity, if any; iterative. */
export function firstNonFinite(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '$']];
  const seen = new Set<object>();
  while (stack.length) {
    const [v, at] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return at;
    } else if (v && typeof v === 'object') {
      if (seen.has(v)) continue;
      seen.add(v);
      if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}[${i}]`]);
      else
        for (const k of Object.keys(v).reverse())
          stack.push([(v as Record<string, unknown>)[k], /^[A-Za-z_$][\w$]*$/.test(k) ? `${at}.${k}` : `${at}[${JSON.stringify(k)}]`]);
    }
  }
  return undefined;
}

/** Read and parse a user-named JSON file with a size limit (default LIMITS.configBytes); errors name the file. */
export function readJsonChecked(
  file: string,
  what: string,
  maxBytes: number = LIMITS.configBytes,
  kind: 'config' | 'data' = 'data',
): unknown {
  return parseJsonChecked(readTextChecked(file, what, { maxBytes }), file, kind);
}

/**
 * The most bytes `compressedBytes` of compressed data held in a file of `fileBytes` may inflate to:
 * max(LIMITS.inflateMinBytes, LIMITS.inflateRatio x fileBytes), at most LIMITS.inflateMaxBytes.
 */
export function inflateBudget(fileBytes: number): number {
  return Math.min(LIMITS.inflateMaxBytes, Math.max(LIMITS.inflateMinBytes, LIMITS.inflateRatio * fileBytes));
}

/**
 * Inflate gzip or raw-deflate data, stopping as soon as the output would pass `maxBytes` (default:
 * inflateBudget of the compressed size, i.e. LIMITS.inflateRatio times it, at least
 * LIMITS.inflateMinBytes): a decompression bomb costs at most that much memory and the time to
 * produce it. Errors name `file` and what is inflated (`what`).
 */
export function inflateChecked(
  data: Uint8Array,
  format: 'gzip' | 'deflate-raw',
  file: string,
  what: string,
  maxBytes: number = inflateBudget(data.length),
): Buffer {
  const opts = { maxOutputLength: Math.max(1, maxBytes) };
  try {
    return format === 'gzip' ? zlib.gunzipSync(data, opts) : zlib.inflateRawSync(data, opts);
  } catch (cause) {
    if (errnoOf(cause) === 'ERR_BUFFER_TOO_LARGE' || cause instanceof RangeError) {
      throw new LimitExceededError(
        file,
        `${what} inflates to more than ${maxBytes} bytes from ${data.length} compressed bytes; refused as a decompression bomb`,
      );
    }
    throw new DataFormatError(
      file,
      `${what}: ${format === 'gzip' ? 'gzip' : 'deflate'} data is corrupted or truncated: ${(cause as Error).message}`,
      { cause },
    );
  }
}

/**
 * Read a JSON config file: errors name the file (missing, a directory, unreadable, larger than
 * LIMITS.configBytes, nested deeper than LIMITS.jsonDepth, bad JSON, a number overflowing to Infinity).
 */
export function readJsonFile(file: string, what = 'a JSON config file'): unknown {
  return readJsonChecked(file, what, LIMITS.configBytes, 'config');
}
