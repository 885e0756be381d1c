/** JSON helpers: canonical serialisation, hashing, deep freeze, the append-only journal (atomic writes: atomic.ts). */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileError } from './files';

/** JSON with object keys sorted recursively, so equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) o[k] = sortKeys((v as Record<string, unknown>)[k]);
    return o;
  }
  return v;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file, streamed; an unreadable file is an error naming its path. */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  } catch (cause) {
    throw fileError(cause, file, 'a file to hash');
  }
  return h.digest('hex');
}

/** Short hash of a JSON value (first 16 hex digits of sha256 of its canonical form). */
export function hashJson(value: unknown): string {
  return sha256(canonicalJson(value)).slice(0, 16);
}

/** Freeze an object graph in place and return it typed as deeply read-only. */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const k of Object.keys(value as object)) deepFreeze((value as Record<string, unknown>)[k]);
  }
  return value as DeepReadonly<T>;
}
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/**
 * An append-only JSON-lines journal. Each record is one line, written and fsynced before append()
 * returns; on open, a torn last line (from a crash mid-write) is cut off.
 */
export class Journal<T = unknown> {
  private fd: number;
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    if (fs.existsSync(file)) {
      const text = fs.readFileSync(file, 'utf8');
      const cut = text.lastIndexOf('\n') + 1;
      if (cut !== text.length) fs.truncateSync(file, cut);
    }
    this.fd = fs.openSync(file, 'a');
  }
  /** Records already in the file (complete lines only). */
  static read<T>(file: string): T[] {
    if (!fs.existsSync(file)) return [];
    const out: T[] = [];
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    // The last element is '' for a complete file, or a torn line: both are dropped.
    for (let i = 0; i < lines.length - 1; i++) if (lines[i].trim()) out.push(JSON.parse(lines[i]) as T);
    return out;
  }
  append(record: T): void {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    fs.fsyncSync(this.fd);
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}
