/**
 * The documentation is checked against the code:
 * - every `dbp-bench …` command in a fenced code block of a README or docs page parses with the CLI's
 *   own command tree (a known command, known options, option values where needed, the right number of
 *   arguments), without running it;
 * - every relative link of those pages and every repository path a command names exists;
 * - every environment variable they name (DBP_*, RUN_SLOW) is read somewhere in the code.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command, Option } from 'commander';
import { buildProgram, builtinRegistry, runCliCaptured } from '@dbp-bench/cli';
import { loadRunConfig } from '@dbp-bench/runner';
import { silentLogger, type Attack } from '@dbp-bench/framework';

const ROOT = path.resolve(__dirname, '../..');

/** The Markdown pages a user reads: READMEs (root, packages, leaderboard, configs, examples) and docs/. */
export function docPages(): string[] {
  const out = ['README.md'];
  const add = (dir: string, pred: (f: string) => boolean): void => {
    const abs = path.join(ROOT, dir);
    if (!fs.existsSync(abs)) return;
    for (const f of fs.readdirSync(abs)) if (pred(f)) out.push(path.join(dir, f));
  };
  add('docs', (f) => f.endsWith('.md'));
  for (const p of fs.readdirSync(path.join(ROOT, 'packages'))) add(path.join('packages', p), (f) => f === 'README.md');
  add('leaderboard', (f) => f === 'README.md');
  add('configs', (f) => f === 'README.md');
  add('configs/train', (f) => f === 'README.md');
  for (const e of fs.readdirSync(path.join(ROOT, 'examples'))) add(path.join('examples', e), (f) => f === 'README.md');
  return out.filter((f) => fs.existsSync(path.join(ROOT, f)));
}

interface Snippet {
  page: string;
  line: number;
  text: string;
}

/** The shell lines of the fenced code blocks of a page (continuations joined, comments dropped). */
export function shellLines(page: string): Snippet[] {
  const lines = fs.readFileSync(path.join(ROOT, page), 'utf8').split('\n');
  const out: Snippet[] = [];
  let inBlock = false;
  let shell = false;
  let pending: Snippet | undefined;
  for (const [i, raw] of lines.entries()) {
    const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(raw);
    if (fence) {
      inBlock = !inBlock;
      shell = inBlock && ['', 'sh', 'bash', 'shell', 'console', 'zsh'].includes(fence[2].toLowerCase());
      continue;
    }
    if (!inBlock || !shell) continue;
    let text = raw.replace(/^\s*\$\s+/, '');
    if (pending) text = `${pending.text} ${text.trim()}`;
    const start = pending?.line ?? i + 1;
    if (/\\\s*$/.test(text)) {
      pending = { page, line: start, text: text.replace(/\\\s*$/, '') };
      continue;
    }
    pending = undefined;
    out.push({ page, line: start, text });
  }
  return out;
}

/** Split a shell line into words (single and double quotes, backslash escapes); stops at an unquoted `#`. */
function words(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else if (c === '#' && !has) {
      break;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/**
 * The `dbp-bench` invocations of a shell line: `dbp-bench` as the first word of a command (after
 * environment assignments, `npx` or `node`), its words up to a pipe, `&&`, `;` or a redirection.
 * Usage synopses are read too: `<placeholder words>` count as one argument, `[optional parts]` are
 * checked without their brackets, `a | b` inside brackets are alternatives and `...` marks repetition.
 */
export function invocations(text: string): string[][] {
  const raw = words(text);
  const merged: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    let w = raw[i];
    if (/<[^>]*$/.test(w)) while (i + 1 < raw.length && !w.includes('>')) w += ` ${raw[++i]}`;
    merged.push(w);
  }
  const out: string[][] = [];
  let cmd: string[] | null = null;
  let atStart = true;
  let depth = 0;
  for (let w of merged) {
    const isPlaceholder = /^\[*<[^<>]*>\]*\.*$/.test(w);
    if (!isPlaceholder && (['|', '||', '&&', ';', '&'].includes(w) || /^[0-9]?(>>?|<)/.test(w))) {
      if (w === '|' && depth > 0) continue; // alternatives inside [ ... ]
      if (cmd) out.push(cmd);
      cmd = null;
      atStart = true;
      depth = 0;
      continue;
    }
    if (cmd) {
      const open = /^\[*/.exec(w)![0].length;
      const close = /\]*$/.exec(w)![0].length;
      depth += open - close;
      w = w.slice(open, w.length - close);
      if (w === '' || w === '...' || w === '…') continue;
      cmd.push(w.replace(/\.\.\.$/, ''));
      continue;
    }
    if (!atStart) continue;
    if (w === 'dbp-bench' || w.endsWith('/dbp-bench') || w.endsWith('bin/dbp-bench.js')) cmd = [];
    else if (!(/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) || ['npx', 'node', 'time', 'nohup', '$'].includes(w))) atStart = false;
  }
  if (cmd) out.push(cmd);
  return out;
}

function findOption(cmds: Command[], flag: string): Option | undefined {
  for (const c of cmds) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o;
  }
  return undefined;
}

/** What is wrong with `dbp-bench <args>` under the CLI's command tree (null: it parses). */
export function commandProblem(program: Command, args: string[], partial = false): string | null {
  let cmd = program;
  const chain: Command[] = [program];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h' || a === '--version' || a === '-V') return null;
    if (a === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      // options of this command and of every command above it (commander passes them up)
      const o = findOption([...chain].reverse(), flag);
      if (!o) return `unknown option '${flag}' for \`${chain.map((c) => c.name()).join(' ')}\``;
      if (o.required && inline === undefined) {
        if (i + 1 >= args.length) return `option '${flag}' needs a value`;
        i++;
        const v = args[i];
        if (o.argChoices && !/^[<$]/.test(v) && !o.argChoices.includes(v))
          return `option '${flag}': '${v}' is not one of ${o.argChoices.join(', ')}`;
      }
      continue;
    }
    const sub = positional.length === 0 ? cmd.commands.find((c) => c.name() === a || c.aliases().includes(a)) : undefined;
    if (sub) {
      cmd = sub;
      chain.push(sub);
      continue;
    }
    if (cmd.commands.length && positional.length === 0 && partial && /^<.*>$/.test(a)) return null; // `dbp-bench <command> --help`
    if (cmd.commands.length && positional.length === 0)
      return `unknown command '${a}' after \`${chain.map((c) => c.name()).join(' ')}\` (commands: ${cmd.commands.map((c) => c.name()).join(', ')})`;
    positional.push(a);
  }
  if (partial) return null; // an inline mention names a command and options, not a full invocation
  if (cmd.commands.length)
    return `\`${chain.map((c) => c.name()).join(' ')}\` needs a command (${cmd.commands.map((c) => c.name()).join(', ')})`;
  const declared = cmd.registeredArguments;
  const required = declared.filter((d) => d.required).length;
  const variadic = declared.some((d) => d.variadic);
  if (positional.length < required)
    return `\`${chain.map((c) => c.name()).join(' ')}\` needs ${required} argument(s), got ${positional.length}`;
  if (!variadic && positional.length > declared.length)
    return `\`${chain.map((c) => c.name()).join(' ')}\` takes ${declared.length} argument(s), got ${positional.length}: ${positional.join(' ')}`;
  for (const o of cmd.options) {
    if (!o.mandatory) continue;
    if (!args.some((a) => a === o.long || a === o.short || a.startsWith(`${o.long}=`)))
      return `\`${chain.map((c) => c.name()).join(' ')}\` needs option ${o.long}`;
  }
  return null;
}

/** Repository paths named in a command: arguments and option values that start with a top-level folder of the repository. */
/**
 * The paths a command writes rather than reads (its `--out` / `--dir`, and the `<out>` of `weights convert`):
 * they exist only after it ran, so they are not required to exist in the repository.
 */
export function madePaths(args: string[]): Set<string> {
  const made = new Set<string>();
  for (const [i, a] of args.entries()) if (['--out', '--dir'].includes(a) && args[i + 1]) made.add(args[i + 1]);
  if (args[0] === 'weights' && args[1] === 'convert') {
    const positional = args.slice(2).filter((a, i, xs) => !a.startsWith('-') && !(i > 0 && xs[i - 1].startsWith('--')));
    if (positional[1]) made.add(positional[1]);
  }
  return made;
}

const REPO_DIRS = ['configs/', 'docs/', 'examples/', 'weights/', 'packages/', 'leaderboard/', 'scripts/', 'bench/', 'test/'];

describe('docs: README and docs/ are true to the code', function () {
  this.timeout(60_000);
  const pages = docPages();
  const { program } = buildProgram();

  it('finds the pages and their dbp-bench commands', () => {
    expect(pages).to.include.members(['README.md', 'docs/RUNNER.md', 'docs/ALGORITHMS.md']);
    const n = pages.flatMap((p) => shellLines(p).flatMap((s) => invocations(s.text))).length;
    expect(n, 'dbp-bench commands in code blocks').to.be.greaterThan(20);
  });

  it('a path a command writes (--out, --dir, the <out> of weights convert) is not required to exist', () => {
    const args = ['weights', 'convert', 'a.th', 'weights/x/b.safetensors', '--arch', 'resnet56', '--mean', '0.5,0.5,0.5'];
    expect([...madePaths(args)]).to.deep.equal(['weights/x/b.safetensors']);
    expect([...madePaths(['run', 'configs/a.json', '--out', 'runs/x'])]).to.deep.equal(['runs/x']);
    expect([...madePaths(['run', 'configs/a.json'])]).to.deep.equal([]);
  });

  it('the command parser itself: unknown commands, options and argument counts are caught', () => {
    expect(commandProblem(program, ['run', 'configs/x.json'])).to.equal(null);
    expect(commandProblem(program, ['runn', 'x.json'])).to.match(/unknown command 'runn'/);
    expect(commandProblem(program, ['run', 'x.json', '--shrad', '0/2'])).to.match(/unknown option '--shrad'/);
    expect(commandProblem(program, ['leaderboard'])).to.match(/needs a command/);
    expect(commandProblem(program, ['plugins', 'schema', 'defense'])).to.match(/needs 2 argument/);
    expect(commandProblem(program, ['--backend', 'tpu', 'plugins', 'list'])).to.match(/'tpu' is not one of/);
    expect(commandProblem(program, ['--backend', 'wasm', 'plugins', 'list'])).to.equal(null);
    // usage synopses: placeholders, optional parts, alternatives, repetition
    const syn = invocations('dbp-bench merge <run dir | journal.jsonl ...> [--out entry.json | --entries dir]');
    expect(syn).to.deep.equal([['merge', '<run dir | journal.jsonl ...>', '--out', 'entry.json', '--entries', 'dir']]);
    expect(commandProblem(program, syn[0])).to.equal(null);
    expect(commandProblem(program, invocations('dbp-bench run <config.json> [--shard i/n] [--entreis dir]')[0])).to.match(
      /unknown option '--entreis'/,
    );
    // only dbp-bench as a command counts, not a mention in prose or a diagram
    expect(invocations('RUN_SLOW=1 npx dbp-bench quickstart | tee log && dbp-bench plugins list')).to.deep.equal([
      ['quickstart'],
      ['plugins', 'list'],
    ]);
    expect(invocations('the dbp-bench command (commander glue)')).to.deep.equal([]);
  });

  it('every dbp-bench command in a code block parses with the CLI', () => {
    const bad: string[] = [];
    for (const page of pages) {
      for (const s of shellLines(page)) {
        for (const args of invocations(s.text)) {
          const p = commandProblem(program, args);
          if (p) bad.push(`${page}:${s.line}: dbp-bench ${args.join(' ')}\n      ${p}`);
        }
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('every `dbp-bench …` span in the prose names a command and options the CLI has', () => {
    const bad: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, (b) => b.replace(/[^\n]/g, ' '));
      for (const m of text.matchAll(/`((?:npx )?dbp-bench [^`]+)`/g)) {
        const line = text.slice(0, m.index).split('\n').length;
        for (const args of invocations(m[1])) {
          const p = commandProblem(program, args, true);
          if (p) bad.push(`${page}:${line}: ${m[1]}\n      ${p}`);
        }
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('every repository path a command names exists', () => {
    const bad: string[] = [];
    for (const page of pages) {
      for (const s of shellLines(page)) {
        for (const args of invocations(s.text)) {
          const made = madePaths(args);
          for (const a of args) {
            if (!REPO_DIRS.some((d) => a.startsWith(d)) || /[<>*{}$]/.test(a) || made.has(a)) continue;
            if (!fs.existsSync(path.join(ROOT, a))) bad.push(`${page}:${s.line}: ${a}`);
          }
        }
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('every relative link of the pages exists', () => {
    const bad: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1].split('#')[0];
        if (!target || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // anchors, http(s), mailto
        const file = path.resolve(path.dirname(path.join(ROOT, page)), decodeURIComponent(target));
        if (!fs.existsSync(file)) bad.push(`${page}: ${m[1]}`);
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });

  it('every environment variable the pages name is read by the code', () => {
    const code: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (['node_modules', 'dist', '.git', 'fixtures'].includes(e.name)) continue;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.(ts|js|cjs|mjs|sh)$/.test(e.name) || e.name === 'run') code.push(fs.readFileSync(p, 'utf8'));
      }
    };
    for (const d of ['packages', 'leaderboard', 'test', 'scripts', 'bench', '.ci', 'examples'])
      if (fs.existsSync(path.join(ROOT, d))) walk(path.join(ROOT, d));
    for (const f of ['.mocharc.js']) if (fs.existsSync(path.join(ROOT, f))) code.push(fs.readFileSync(path.join(ROOT, f), 'utf8'));
    const all = code.join('\n');
    const bad: string[] = [];
    for (const page of pages) {
      const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
      for (const v of new Set([...text.matchAll(/\b(DBP_[A-Z0-9_]+|RUN_SLOW)\b/g)].map((m) => m[1]))) {
        const read = new RegExp(`env\\.${v}\\b|env\\[['"]${v}['"]\\]|\\$\\{?${v}\\b|['"]${v}['"]`);
        if (!read.test(all)) bad.push(`${page}: ${v}`);
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });
});

/** The numbers a config's attacks use, with defaults filled: EoT samples, steps, step sizes and budgets. */
interface AttackNumbers {
  eot: number;
  steps: number | null;
  stepSize: number | null;
  norm: string | null;
  eps: number | null;
}

/** `8/255` or `0.3` as a number. */
function parseAmount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(s);
  return m ? Number(m[1]) / Number(m[2]) : Number(s);
}

const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-3 * Math.max(Math.abs(a), Math.abs(b), 1e-9) + 5e-4;

/** What the human-readable text of a config claims that its attacks do not (empty: it agrees). */
export function notesProblems(text: string, attacks: readonly AttackNumbers[]): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\bEoT[- ](\d+)\b/g)) {
    const k = Number(m[1]);
    if (!attacks.some((a) => a.eot === k))
      out.push(`says "${m[0]}", the attacks use EoT ${[...new Set(attacks.map((a) => a.eot))].join(', ')}`);
  }
  for (const m of text.matchAll(/\b(A?PGD)-(\d+)\b/g)) {
    const n = Number(m[2]);
    if (!attacks.some((a) => a.steps === n))
      out.push(`says "${m[0]}", the attacks run ${[...new Set(attacks.map((a) => a.steps))].join(', ')} steps`);
  }
  for (const m of text.matchAll(/\bstep (?:size )?(\d+(?:\.\d+)?(?:\/\d+)?)\b/g)) {
    const s = parseAmount(m[1]);
    if (!attacks.some((a) => a.stepSize !== null && near(a.stepSize, s)))
      out.push(`says "${m[0]}", the attacks step ${[...new Set(attacks.map((a) => a.stepSize))].join(', ')}`);
  }
  for (const m of text.matchAll(/\bl_(inf|2)(?: eps)?(?: =)? (\d+(?:\.\d+)?(?:\/\d+)?)\b/g)) {
    const norm = m[1] === 'inf' ? 'linf' : 'l2';
    const eps = parseAmount(m[2]);
    if (!attacks.some((a) => a.norm === norm && a.eps !== null && near(a.eps, eps)))
      out.push(`says "${m[0]}", the attacks use ${attacks.map((a) => `${a.norm} ${a.eps}`).join(', ')}`);
  }
  return out;
}

describe('docs: shipped configs say what they do', function () {
  this.timeout(120_000);

  it('the notes check itself catches a wrong EoT, step count, step size or budget', () => {
    const a: AttackNumbers[] = [{ eot: 1, steps: 20, stepSize: 2 / 255, norm: 'linf', eps: 8 / 255 }];
    expect(notesProblems('DW_Both, PGD-20, EoT 1, l_inf 8/255 (step 2/255)', a)).to.deep.equal([]);
    expect(notesProblems('PGD-20 + EoT-2', a)).to.have.length(1);
    expect(notesProblems('PGD-10, l_inf 0.031', a)).to.have.length(1); // 10 steps; 0.031 is within rounding of 8/255
    expect(notesProblems('l_inf eps 0.3', a)[0]).to.match(/says "l_inf eps 0\.3"/);
    expect(notesProblems('l_2 0.5', a)).to.have.length(1);
  });

  it('every run config in configs/ agrees with its attacks in its name, description, model name and notes', async () => {
    const registry = builtinRegistry();
    const files: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.json')) files.push(p);
      }
    };
    walk(path.join(ROOT, 'configs'));
    const bad: string[] = [];
    let checked = 0;
    for (const f of files) {
      const raw = JSON.parse(fs.readFileSync(f, 'utf8')) as { attacks?: unknown };
      if (!Array.isArray(raw.attacks)) continue; // training configs
      const { config } = loadRunConfig(registry, f);
      // what the attacks declare (defaults resolved: eps from the norm, step size from eps)
      const scope = registry.createScope({ logger: silentLogger });
      const attacks: AttackNumbers[] = await Promise.all(
        config.attacks.map(async (a) => {
          const attack = await scope.create<Attack>('attack', a.id, a.options);
          const p = attack.protocol();
          return { eot: p.eotSamples, steps: p.steps, stepSize: p.stepSize, norm: attack.threat.norm, eps: attack.threat.eps };
        }),
      );
      const texts: [string, string | undefined][] = [
        ['description', config.description],
        ['leaderboard.model', config.leaderboard.model],
        ['leaderboard.notes', config.leaderboard.notes],
        ...config.attacks.map((a, k) => [`attacks[${k}].name`, a.name] as [string, string | undefined]),
      ];
      for (const [field, text] of texts) {
        if (!text) continue;
        for (const p of notesProblems(text, attacks)) bad.push(`${path.relative(ROOT, f)}: ${field} ${p}`);
      }
      checked++;
    }
    expect(checked).to.be.greaterThan(40);
    expect(bad, bad.join('\n')).to.deep.equal([]);
  });
});

/** The GitHub Actions workflow files of the examples (`examples/<name>/.github/workflows/*.yml`). */
function exampleWorkflows(): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, 'examples'))) {
    const dir = path.join('examples', e, '.github', 'workflows');
    if (!fs.existsSync(path.join(ROOT, dir))) continue;
    for (const f of fs.readdirSync(path.join(ROOT, dir))) if (/\.ya?ml$/.test(f)) out.push(path.join(dir, f));
  }
  return out;
}

/** The shell lines of a workflow's `run:` steps (one-line and `|` blocks). */
function workflowRunLines(file: string): Snippet[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const out: Snippet[] = [];
  let block: number | null = null; // indentation of the `run: |` key while inside its block
  for (const [i, raw] of lines.entries()) {
    const indent = raw.length - raw.trimStart().length;
    if (block !== null) {
      if (raw.trim() === '' || indent > block) {
        out.push({ page: file, line: i + 1, text: raw.trim() });
        continue;
      }
      block = null;
    }
    const m = /^(\s*)(?:-\s+)?run:\s*(.*)$/.exec(raw);
    if (!m) continue;
    if (/^[|>]/.test(m[2])) block = indent;
    else out.push({ page: file, line: i + 1, text: m[2] });
  }
  return out;
}

describe('docs: the example leaderboard repository (examples/leaderboard-repo)', function () {
  this.timeout(120_000);
  const { program } = buildProgram();
  const EXAMPLE = path.join(ROOT, 'examples', 'leaderboard-repo');

  it('its workflow validates the entries, builds the site and deploys it with the Pages actions; every dbp-bench command parses', () => {
    const files = exampleWorkflows();
    expect(files).to.include(path.join('examples', 'leaderboard-repo', '.github', 'workflows', 'leaderboard.yml'));
    const bad: string[] = [];
    const commands: string[][] = [];
    for (const f of files) {
      for (const s of workflowRunLines(f)) {
        for (const args of invocations(s.text)) {
          commands.push(args);
          const p = commandProblem(program, args);
          if (p) bad.push(`${f}:${s.line}: dbp-bench ${args.join(' ')}\n      ${p}`);
        }
      }
    }
    expect(bad, bad.join('\n')).to.deep.equal([]);
    const text = fs.readFileSync(path.join(EXAMPLE, '.github', 'workflows', 'leaderboard.yml'), 'utf8');
    expect(commands).to.deep.include(['leaderboard', 'validate', 'entries']);
    expect(commands).to.deep.include(['leaderboard', 'build', 'entries', '--out', 'site']);
    expect(commands.some((c) => c.includes('--base-url'))).to.equal(true);
    expect(text).to.match(/uses: actions\/upload-pages-artifact@v\d+\s+with:\s+path: site/);
    expect(text).to.match(/uses: actions\/deploy-pages@v\d+/);
  });

  it('its package.json depends on this version of dbp-bench', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(pkg.dependencies['dbp-bench']).to.equal(root.version);
  });

  it('its sample entry passes `leaderboard validate`: its numbers are what its results file gives', async () => {
    const r = await runCliCaptured(['leaderboard', 'validate', path.join(EXAMPLE, 'entries')]);
    expect(r.error, r.error?.message).to.equal(undefined);
    expect(r.stdout).to.match(/OK: 1 entry valid: 1 measured \(re-computed from their per-sample results files\)/);
  });
});
