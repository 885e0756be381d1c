/**
 * The table-driven harness of the hostile-input suite: each row writes its malformed input into a
 * fresh temporary directory and names the CLI arguments that read it; the CLI runs in this process
 * (runCliCaptured) and the row passes when
 *   - the exit is non-zero (a thrown error is exit 1, as the `dbp-bench` bin does),
 *   - the error is one of dbp-bench's typed errors (a DbpError with an E_ code, not a TypeError or
 *     RangeError escaping from a parser),
 *   - what the user sees names the file (its base name) or the field at fault and matches the row's
 *     pattern,
 *   - and holds no stack trace.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCliCaptured } from '@dbp-bench/cli';
import { DbpError } from '@dbp-bench/framework';
import { put } from './builders';

export interface HostileRow {
  name: string;
  /** Write the input into `dir`; return the CLI arguments and the file whose name the message must carry. */
  setup(dir: string): { args: string[]; names?: string } | Promise<{ args: string[]; names?: string }>;
  /** What the message must say (the field, the limit, the reason). */
  expect: RegExp;
  /** Further checks on the directory after the refusal (e.g. that a payload left no trace). */
  after?(dir: string): void;
  /** Why the row cannot run on this machine (then it is skipped with that reason), if it cannot. */
  skip?(): string | undefined;
}

/** A stack frame as Node prints it: `    at fn (file.js:1:2)` or `    at file.js:1:2`. */
export const STACK_FRAME = /^\s+at\s+(?:\S+\s+\()?[^()\s]+:\d+:\d+\)?\s*$/m;

/** What a user of the bin sees for a run: its output, and `error: <message>` for a thrown error. */
export interface Outcome {
  exit: number;
  text: string;
  error?: Error;
}

export async function runHostile(args: string[]): Promise<Outcome> {
  const r = await runCliCaptured(args);
  const exit = r.error ? 1 : (r.code ?? 0);
  const text = `${r.stdout}${r.stderr}${r.error ? `error: ${r.error.message}\n` : ''}`;
  return { exit, text, error: r.error };
}

/** Check one outcome against a row (see the module comment). */
export function expectRefused(o: Outcome, pattern: RegExp, names?: string): void {
  expect(o.exit, `exit code; output:\n${o.text}`).to.not.equal(0);
  expect(o.error, `a typed dbp-bench error; output:\n${o.text}`).to.be.instanceOf(DbpError);
  expect((o.error as DbpError).code).to.match(/^E_[A-Z_]+$/);
  expect(o.text).to.match(pattern);
  if (names) expect(o.text, 'the message names the file').to.include(path.basename(names));
  expect(o.text, 'no stack trace in the output').to.not.match(STACK_FRAME);
}

/** One `it` per row, each in its own temporary directory (removed afterwards). */
export function hostileRows(rows: readonly HostileRow[]): void {
  for (const row of rows) {
    it(row.name, async function () {
      const why = row.skip?.();
      if (why) {
        this.test!.title += ` (skipped: ${why})`;
        this.skip();
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-hostile-'));
      try {
        const { args, names } = await row.setup(dir);
        expectRefused(await runHostile(args), row.expect, names);
        row.after?.(dir);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
}

/**
 * A row that writes `base()` changed by `edit` (or raw text) as `file` and runs the CLI on it:
 * `args(path)` are the arguments that read it; the message must name the file.
 */
export function editedJsonRow<T>(
  name: string,
  input: { base: () => T; file: string; args: (file: string) => string[] },
  edit: ((value: T) => void) | string,
  expectRe: RegExp,
): HostileRow {
  return {
    name,
    setup: (dir) => {
      let content: string;
      if (typeof edit === 'string') content = edit;
      else {
        const value = input.base();
        edit(value);
        content = JSON.stringify(value);
      }
      const file = put(dir, input.file, content);
      return { args: input.args(file), names: file };
    },
    expect: expectRe,
  };
}
