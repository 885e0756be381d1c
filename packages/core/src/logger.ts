/**
 * Logging and progress. Library code never calls console directly: it takes a Logger.
 * Progress bars draw (with an ETA) only on a TTY and stay silent when `CI` is set or output is piped.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Progress {
  /** Advance by `n` units (default 1); `note` is shown beside the bar. */
  tick(n?: number, note?: string): void;
  /** Finish the bar and print a one-line summary (only on a TTY). */
  done(note?: string): void;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A progress bar over `total` units of work. */
  progress(label: string, total: number, start?: number): Progress;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Draw progress bars; default: the stream is a TTY and `CI` is not set. */
  interactive?: boolean;
  stream?: NodeJS.WriteStream;
  /**
   * Seconds between plain progress lines when the stream is not a TTY (a job log); default
   * `DBP_PROGRESS_INTERVAL` or 30; 0 turns them off. Under `CI` there are none.
   */
  progressInterval?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/** Format seconds as `1h02m`, `3m05s` or `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** True when progress bars should be drawn: a TTY and no CI. */
export function isInteractive(stream: NodeJS.WriteStream = process.stderr): boolean {
  return Boolean(stream.isTTY) && !process.env.CI;
}

/** How progress is shown: bars on a TTY, periodic plain lines in a log, nothing under CI or below info. */
type ProgressMode = 'tty' | 'plain' | 'quiet';

export class ConsoleLogger implements Logger {
  private readonly level: number;
  private readonly stream: NodeJS.WriteStream;
  private readonly mode: ProgressMode;
  private readonly board: ProgressBoard;
  constructor(options: LoggerOptions = {}) {
    this.level = LEVELS[options.level ?? (process.env.DBP_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? LEVELS.info;
    this.stream = options.stream ?? process.stderr;
    const interactive = options.interactive ?? isInteractive(this.stream);
    const envInterval = Number(process.env.DBP_PROGRESS_INTERVAL);
    const interval = options.progressInterval ?? (Number.isFinite(envInterval) && envInterval >= 0 ? envInterval : 30);
    this.mode = this.level > LEVELS.info ? 'quiet' : interactive ? 'tty' : process.env.CI || interval <= 0 ? 'quiet' : 'plain';
    this.board = new ProgressBoard(this.stream, options.now ?? Date.now, interval);
  }
  private write(level: LogLevel, msg: string): void {
    if (LEVELS[level] < this.level) return;
    const prefix = level === 'info' ? '' : `${level}: `;
    // above the bars, never into them
    this.board.printAbove(`${prefix}${msg}\n`);
  }
  debug(msg: string): void {
    this.write('debug', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warn', msg);
  }
  error(msg: string): void {
    this.write('error', msg);
  }
  /**
   * A progress bar. On a TTY every open bar has its own line, the first one opened on top (an overall
   * bar above a nested per-attack bar), with its ETA; log lines go above them. In a log (not a TTY) a
   * plain line `label: done/total (pct), rate, elapsed, ETA` every `progressInterval` seconds and one
   * when it finishes. Nothing under CI.
   */
  progress(label: string, total: number, start = 0): Progress {
    if (this.mode === 'quiet') return { tick() {}, done() {} };
    return this.board.open(label, total, start, this.mode);
  }
}

interface BarState {
  label: string;
  total: number;
  done: number;
  start: number;
  t0: number;
  note: string;
  lastPlain: number;
  /** Opened while another bar was open (a per-attack bar inside a run). */
  nested: boolean;
  /** Printed a periodic plain line. */
  printed: boolean;
}

/** Rate of work: `3.2/s`, or `12.5 s each` when slower than one unit per second. */
function formatRate(perSecond: number): string {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) return '--';
  return perSecond >= 1 ? `${Number(perSecond.toPrecision(3))}/s` : `${Number((1 / perSecond).toPrecision(3))} s each`;
}

function status(b: BarState, now: number): { elapsed: number; frac: number; rate: number; eta: number } {
  const elapsed = (now - b.t0) / 1000;
  const frac = b.total > 0 ? Math.min(1, b.done / b.total) : 1;
  const rate = (b.done - b.start) / Math.max(elapsed, 1e-9);
  const eta = rate > 0 ? Math.max(0, b.total - b.done) / rate : NaN;
  return { elapsed, frac, rate, eta };
}

/** The open progress bars of one stream, drawn together and kept below log lines. */
class ProgressBoard {
  private readonly bars: BarState[] = [];
  /** Lines the TTY bars take on screen now (0: nothing drawn). */
  private drawn = 0;
  private lastDraw = 0;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly now: () => number,
    private readonly interval: number,
  ) {}

  open(label: string, total: number, start: number, mode: 'tty' | 'plain'): Progress {
    const t = this.now();
    const b: BarState = { label, total, done: start, start, t0: t, note: '', lastPlain: t, nested: this.bars.length > 0, printed: false };
    this.bars.push(b);
    if (mode === 'tty') this.redraw();
    let closed = false;
    return {
      tick: (n = 1, note?: string) => {
        if (closed) return;
        b.done += n;
        if (note !== undefined) b.note = note;
        const now = this.now();
        if (mode === 'tty') {
          if (now - this.lastDraw > 200 || b.done >= b.total) this.redraw();
        } else if (this.interval > 0 && now - b.lastPlain >= this.interval * 1000 && b.done < b.total) {
          b.lastPlain = now;
          b.printed = true;
          this.stream.write(`${this.plainLine(b, now)}\n`);
        }
      },
      done: (note?: string) => {
        if (closed) return;
        closed = true;
        if (note !== undefined) b.note = note;
        const now = this.now();
        const line = mode === 'tty' ? this.barLine(b, now) : this.plainLine(b, now, true);
        this.clear();
        this.bars.splice(this.bars.indexOf(b), 1);
        // The finished bar stays as a log line (the others are drawn below it); in a log, a short nested
        // bar (one that never printed a periodic line) finishes silently.
        if (mode === 'tty' || !b.nested || b.printed) this.stream.write(`${line}\n`);
        if (mode === 'tty') this.redraw();
      },
    };
  }

  /** Write log text above the bars: clear them, write, draw them again. */
  printAbove(text: string): void {
    if (this.drawn === 0) {
      this.stream.write(text);
      return;
    }
    this.clear();
    this.stream.write(text);
    this.redraw();
  }

  private clear(): void {
    if (this.drawn === 0) return;
    // to the start of the first bar line, then clear to the end of the screen
    this.stream.write(`${this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : ''}\r\x1b[J`);
    this.drawn = 0;
  }

  private redraw(): void {
    const now = this.now();
    this.lastDraw = now;
    this.clear();
    if (!this.bars.length) return;
    this.stream.write(this.bars.map((b, k) => `${k > 0 ? '  ' : ''}${this.barLine(b, now)}`).join('\n'));
    this.drawn = this.bars.length;
  }

  private barLine(b: BarState, now: number): string {
    const s = status(b, now);
    const width = 24;
    const fill = Math.round(s.frac * width);
    const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
    const cols = this.stream.columns && this.stream.columns > 20 ? this.stream.columns - 1 : 1000;
    const line = `${b.label} [${bar}] ${b.done}/${b.total} ${formatDuration(s.elapsed)} elapsed, ETA ${formatDuration(s.eta)}${b.note ? ' ' + b.note : ''}`;
    return line.length > cols ? line.slice(0, cols) : line;
  }

  private plainLine(b: BarState, now: number, finished = false): string {
    const s = status(b, now);
    const pct = `${(100 * s.frac).toFixed(s.frac < 0.1 ? 1 : 0)}%`;
    const head = `progress: ${b.label}: ${b.done}/${b.total} (${pct})`;
    if (finished)
      return `${head} ${b.done >= b.total ? 'done in' : 'stopped after'} ${formatDuration(s.elapsed)}${b.note ? `, ${b.note}` : ''}`;
    return `${head}, ${formatRate(s.rate)}, ${formatDuration(s.elapsed)} elapsed, ETA ${formatDuration(s.eta)}${b.note ? `, ${b.note}` : ''}`;
  }
}

/** A progress bar a MemoryLogger opened: its label, total, units done and whether done() was called. */
export interface RecordedProgress {
  readonly label: string;
  readonly total: number;
  done: number;
  finished: boolean;
}

/** A logger that records messages and the progress bars opened (for tests) and draws nothing. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  readonly bars: RecordedProgress[] = [];
  debug(msg: string): void {
    this.lines.push(`debug: ${msg}`);
  }
  info(msg: string): void {
    this.lines.push(msg);
  }
  warn(msg: string): void {
    this.lines.push(`warn: ${msg}`);
  }
  error(msg: string): void {
    this.lines.push(`error: ${msg}`);
  }
  progress(label: string, total: number, start = 0): Progress {
    const bar: RecordedProgress = { label, total, done: start, finished: false };
    this.bars.push(bar);
    return {
      tick(n = 1) {
        if (!bar.finished) bar.done += n;
      },
      done() {
        bar.finished = true;
      },
    };
  }
}

/** A logger that prints nothing. */
export const silentLogger: Logger = new ConsoleLogger({ level: 'silent', interactive: false });
