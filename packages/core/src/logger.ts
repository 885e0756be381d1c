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
  /** Draw progress bars; default: stderr is a TTY and `CI` is not set. */
  interactive?: boolean;
  stream?: NodeJS.WriteStream;
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

export class ConsoleLogger implements Logger {
  private readonly level: number;
  private readonly interactive: boolean;
  private readonly stream: NodeJS.WriteStream;
  constructor(options: LoggerOptions = {}) {
    this.level = LEVELS[options.level ?? (process.env.DBP_LOG_LEVEL as LogLevel | undefined) ?? 'info'] ?? LEVELS.info;
    this.stream = options.stream ?? process.stderr;
    this.interactive = options.interactive ?? isInteractive(this.stream);
  }
  private write(level: LogLevel, msg: string): void {
    if (LEVELS[level] < this.level) return;
    const prefix = level === 'info' ? '' : `${level}: `;
    this.stream.write(`${prefix}${msg}\n`);
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
  progress(label: string, total: number, start = 0): Progress {
    if (!this.interactive || this.level > LEVELS.info) return { tick() {}, done() {} };
    return new TtyProgress(this.stream, label, total, start);
  }
}

/** A logger that records messages (for tests) and draws nothing. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
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
  progress(): Progress {
    return { tick() {}, done() {} };
  }
}

/** A logger that prints nothing. */
export const silentLogger: Logger = new ConsoleLogger({ level: 'silent', interactive: false });

class TtyProgress implements Progress {
  private done_ = 0;
  private readonly t0 = Date.now();
  private lastDraw = 0;
  private readonly startDone: number;
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly label: string,
    private readonly total: number,
    start: number,
  ) {
    this.done_ = start;
    this.startDone = start;
    this.draw('');
  }
  tick(n = 1, note = ''): void {
    this.done_ += n;
    const now = Date.now();
    if (now - this.lastDraw > 200 || this.done_ >= this.total) this.draw(note);
  }
  done(note = ''): void {
    this.draw(note);
    this.stream.write('\n');
  }
  private draw(note: string): void {
    this.lastDraw = Date.now();
    const elapsed = (this.lastDraw - this.t0) / 1000;
    const frac = this.total > 0 ? Math.min(1, this.done_ / this.total) : 1;
    const rate = (this.done_ - this.startDone) / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - this.done_) / rate : NaN;
    const width = 24;
    const fill = Math.round(frac * width);
    const bar = '#'.repeat(fill) + '-'.repeat(width - fill);
    const line = `${this.label} [${bar}] ${this.done_}/${this.total} ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}${note ? ' ' + note : ''}`;
    this.stream.write(`\r\x1b[K${line}`);
  }
}
