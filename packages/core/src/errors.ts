/**
 * Typed errors of dbp-bench. Every error carries a stable `code`, an optional `cause`, and a message
 * that names the plugin id, file or field at fault and what was expected.
 */
export class DbpError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A JSON document (run config, plugin options, leaderboard entry) failed its schema. */
export class ConfigValidationError extends DbpError {
  /** One line per problem, each starting with the JSON path of the offending field. */
  readonly problems: string[];
  constructor(what: string, problems: string[], options?: { cause?: unknown }) {
    super('E_CONFIG', `${what} is invalid:\n  - ${problems.join('\n  - ')}`, options);
    this.problems = problems;
  }
}

/** Two plugins were registered under the same id. */
export class DuplicatePluginError extends DbpError {
  constructor(kind: string, id: string, existingPackage: string, newPackage: string) {
    super(
      'E_DUPLICATE_PLUGIN',
      `${kind} plugin id '${id}' is already registered by ${existingPackage}; ${newPackage} tried to register it again. Plugin ids must be unique.`,
    );
  }
}

/** An id was asked for that no registered plugin has. */
export class UnknownPluginError extends DbpError {
  constructor(kind: string, id: string, known: readonly string[]) {
    super('E_UNKNOWN_PLUGIN', `unknown ${kind} '${id}'. Registered ${kind}s: ${known.length ? known.join(', ') : '(none)'}.`);
  }
}

/** A plugin kind was asked for that does not exist (`defenses` for `defense`). */
export class UnknownPluginKindError extends DbpError {
  constructor(kind: string, kinds: readonly string[]) {
    const singular = kind.endsWith('s') ? kind.slice(0, -1) : kind;
    const hint = kinds.includes(singular) ? ` (did you mean '${singular}'?)` : '';
    super('E_UNKNOWN_PLUGIN_KIND', `unknown plugin kind '${kind}'${hint}; the kinds are ${kinds.join(', ')}.`);
  }
}

/** Two plugins cannot be combined (e.g. an attack needs exact gradients a defense does not give). */
export class IncompatiblePluginError extends DbpError {
  constructor(message: string) {
    super('E_INCOMPATIBLE', message);
  }
}

/** A plugin module given by --plugin or a `plugins` list could not be loaded or has no register(). */
export class PluginLoadError extends DbpError {
  constructor(spec: string, expected: string, options?: { cause?: unknown }) {
    super('E_PLUGIN_LOAD', `cannot load plugin module '${spec}': ${expected}`, options);
  }
}

/** A data or weights file is malformed: the message names the file, the byte offset or field, and what was expected. */
export class DataFormatError extends DbpError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('E_FORMAT', `${file}: ${message}`, options);
    this.file = file;
  }
}

/** A file or directory the user named does not exist or cannot be read. */
export class MissingFileError extends DbpError {
  readonly file: string;
  constructor(file: string, hint: string, options?: { cause?: unknown }) {
    super('E_MISSING', `${file} not found: ${hint}`, options);
    this.file = file;
  }
}

/** A file the user named exists but cannot be read: permission denied, or some other I/O error. */
export class FileAccessError extends DbpError {
  readonly file: string;
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('E_ACCESS', `${file}: ${message}`, options);
    this.file = file;
  }
}

/** An input is larger than a stated limit of dbp-bench (docs/SECURITY.md, "Resource limits"). */
export class LimitExceededError extends DbpError {
  readonly file: string;
  constructor(file: string, message: string) {
    super('E_LIMIT', `${file}: ${message}`);
    this.file = file;
  }
}

/** Shapes of tensors or weights do not agree with an architecture. */
export class ShapeMismatchError extends DbpError {
  constructor(message: string) {
    super('E_SHAPE', message);
  }
}

/** The tensor backend could not be initialised. */
export class BackendError extends DbpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_BACKEND', message, options);
  }
}

/** A sanity check of the runner failed (randomness without EoT, zero gradients, budget exceeded). */
export class SanityCheckError extends DbpError {
  readonly flag: string;
  constructor(flag: string, message: string) {
    super('E_SANITY', `[${flag}] ${message}`);
    this.flag = flag;
  }
}

/** Throw `new DbpError('E_ASSERT', msg())` when `cond` is false; the message is built lazily. */
export function assert(cond: unknown, msg: () => string): asserts cond {
  if (!cond) throw new DbpError('E_ASSERT', msg());
}
