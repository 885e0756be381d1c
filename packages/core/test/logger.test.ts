import { expect } from 'chai';
import { ConsoleLogger, formatDuration, isInteractive } from '../src';

/** A fake stream that records writes and claims to be (or not be) a TTY. */
function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = {
    isTTY,
    text: '',
    write(chunk: string) {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

describe('logger and progress', () => {
  const savedCI = process.env.CI;
  afterEach(() => {
    if (savedCI === undefined) delete process.env.CI;
    else process.env.CI = savedCI;
  });

  it('draws a progress bar with an ETA on a TTY', () => {
    delete process.env.CI;
    const stream = fakeStream(true);
    expect(isInteractive(stream)).to.equal(true);
    const log = new ConsoleLogger({ stream });
    const p = log.progress('attack', 4);
    for (let i = 0; i < 4; i++) p.tick(1, `loss ${i}`);
    p.done();
    expect(stream.text).to.match(/attack \[#+\] 4\/4 .*elapsed, ETA \S+ loss 3/);
    expect(stream.text.endsWith('\n')).to.equal(true);
  });

  it('stays quiet when CI is set (TTY or not), but still logs messages', () => {
    process.env.CI = 'true';
    for (const tty of [true, false]) {
      const ci = fakeStream(tty);
      const a = new ConsoleLogger({ stream: ci, progressInterval: 1, now: () => 0 });
      const p = a.progress('x', 3);
      p.tick();
      a.info('hello');
      p.done();
      expect(ci.text).to.equal('hello\n');
    }
  });

  it('in a log (not a TTY): a plain line every progressInterval seconds with done/total, rate and ETA, and one at the end', () => {
    delete process.env.CI;
    let t = 0;
    const piped = fakeStream(false);
    const log = new ConsoleLogger({ stream: piped, progressInterval: 30, now: () => t });
    const p = log.progress('run quickstart-dp-ddpm', 16);
    t = 10_000;
    p.tick(2); // 10 s: nothing yet
    expect(piped.text).to.equal('');
    t = 40_000;
    p.tick(2); // 40 s: 4 done at 0.1/s, 12 left -> ETA 120 s
    expect(piped.text).to.equal('progress: run quickstart-dp-ddpm: 4/16 (25%), 10 s each, 40s elapsed, ETA 2m00s\n');
    log.warn('careful');
    t = 50_000;
    p.tick(1); // 10 s since the last line: nothing
    t = 160_000;
    p.tick(11); // complete: the closing line says it
    p.done();
    expect(piped.text.split('\n')).to.deep.equal([
      'progress: run quickstart-dp-ddpm: 4/16 (25%), 10 s each, 40s elapsed, ETA 2m00s',
      'warn: careful',
      'progress: run quickstart-dp-ddpm: 16/16 (100%) done in 2m40s',
      '',
    ]);
  });

  it('in a log, a short nested bar finishes silently; a long one reports like the overall bar', () => {
    delete process.env.CI;
    let t = 0;
    const piped = fakeStream(false);
    const log = new ConsoleLogger({ stream: piped, progressInterval: 30, now: () => t });
    const run = log.progress('run', 2);
    const short = log.progress('PGD-5+EoT-2', 5);
    t = 5_000;
    short.tick(5);
    short.done();
    expect(piped.text).to.equal('');
    const long = log.progress('DW_Both', 100);
    t = 40_000;
    long.tick(50);
    long.done();
    run.tick(2);
    run.done();
    expect(piped.text.split('\n').filter(Boolean)).to.deep.equal([
      'progress: DW_Both: 50/100 (50%), 1.43/s, 35s elapsed, ETA 35s',
      'progress: DW_Both: 50/100 (50%) stopped after 35s',
      'progress: run: 2/2 (100%) done in 40s',
    ]);
  });

  it('on a TTY: one line per open bar (overall on top, nested below), log lines printed above the bars, never into them', () => {
    delete process.env.CI;
    let t = 0;
    const stream = fakeStream(true);
    const log = new ConsoleLogger({ stream, now: () => t });
    const run = log.progress('run', 4);
    const attack = log.progress('PGD-5+EoT-2', 5);
    t = 1000;
    attack.tick(1, 'loss 2.3188');
    log.info('standard: step 10/180');
    t = 2000;
    attack.tick(4);
    attack.done();
    run.tick(1);
    run.done();
    // replay the terminal: \r returns to the line start, ESC[nA moves up, ESC[J clears below
    const screen: string[] = [''];
    let row = 0;
    const s = stream.text;
    for (let i = 0; i < s.length; i++) {
      const m = new RegExp(`^${String.fromCharCode(27)}\\[(\\d*)([AJK])`).exec(s.slice(i));
      if (m) {
        if (m[2] === 'A') row -= Number(m[1] || 1);
        else if (m[2] === 'J') {
          screen.splice(row + 1);
          screen[row] = '';
        } else screen[row] = '';
        i += m[0].length - 1;
      } else if (s[i] === '\r') screen[row] = '';
      else if (s[i] === '\n') {
        row++;
        if (screen.length <= row) screen.push('');
      } else screen[row] += s[i];
    }
    expect(screen).to.have.length(4);
    expect(screen[0]).to.equal('standard: step 10/180');
    expect(screen[1]).to.match(/^PGD-5\+EoT-2 \[#{24}\] 5\/5 2s elapsed, ETA 0s loss 2\.3188$/);
    expect(screen[2]).to.match(/^run \[######------------------\] 1\/4 2s elapsed, ETA 6s$/);
    expect(screen[3]).to.equal('');
    // while both bars were open, the log line was written on a cleared screen, not after a bar
    expect(stream.text).to.include('\x1b[1A\r\x1b[Jstandard: step 10/180\n');
    expect(stream.text).to.not.match(/2\.3188standard/);
  });

  it('respects the log level', () => {
    const stream = fakeStream(false);
    const log = new ConsoleLogger({ stream, level: 'warn' });
    log.info('hidden');
    log.debug('hidden');
    log.error('shown');
    expect(stream.text).to.equal('error: shown\n');
  });

  it('formats durations', () => {
    expect(formatDuration(5)).to.equal('5s');
    expect(formatDuration(125)).to.equal('2m05s');
    expect(formatDuration(3725)).to.equal('1h02m');
    expect(formatDuration(NaN)).to.equal('--');
  });
});
