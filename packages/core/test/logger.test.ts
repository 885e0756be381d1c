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

  it('stays quiet when CI is set or output is not a TTY, but still logs messages', () => {
    process.env.CI = 'true';
    const ci = fakeStream(true);
    const a = new ConsoleLogger({ stream: ci });
    a.progress('x', 3).tick();
    a.info('hello');
    expect(ci.text).to.equal('hello\n');
    delete process.env.CI;
    const piped = fakeStream(false);
    const b = new ConsoleLogger({ stream: piped });
    b.progress('x', 3).tick();
    b.warn('careful');
    expect(piped.text).to.equal('warn: careful\n');
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
