/**
 * A few hostile inputs through the built `dbp-bench` bin as a child process, where the exit code and
 * the exact output are what a shell sees: exit status 1, one `error: ...` message naming the file or
 * field, no stack trace (the rest of the suite runs the CLI in-process).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { op, pkl, put, validConfig, validEntry } from './builders';
import { STACK_FRAME } from './harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'dbp-bench.js');

describe('hostile inputs through the dbp-bench bin (child process)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-hostile-bin-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const cases: { name: string; args: () => string[]; expect: RegExp }[] = [
    {
      name: 'a config with l_inf eps 5',
      args: () => {
        const c = validConfig() as { attacks: unknown[] };
        c.attacks = [{ id: 'pgd', options: { eps: 5 } }];
        return ['validate', put(dir, 'eps5.json', c)];
      },
      expect: /^error: .*eps5\.json is invalid:\n {2}- \$\.attacks\[0\]\.options\.eps: must be <= 1\n$/,
    },
    {
      name: 'a directory given as a weights file',
      args: () => ['weights', 'inspect', dir],
      expect: /^error: .*dbp-hostile-bin-\w+: is a directory, expected a weights file/,
    },
    {
      name: 'a pickle that is not a torch.save file',
      args: () => ['weights', 'inspect', put(dir, 'dict.pkl', pkl(op.proto(2), op.emptyDict, op.stop))],
      expect: /^error: .*dict\.pkl: wrong magic number at byte 0: the first pickle holds a dict with 0 key\(s\)/,
    },
    {
      name: 'two entries with one id',
      args: () => {
        put(dir, 'entries/cifar10/linf-8_255/a.json', validEntry('same'));
        put(dir, 'entries/cifar10/linf-8_255/b.json', validEntry('same'));
        return ['leaderboard', 'validate', path.join(dir, 'entries')];
      },
      expect: /^error: .*b\.json: two entries have id 'same'/,
    },
  ];

  for (const c of cases) {
    it(`exit 1, one message, no stack trace: ${c.name}`, () => {
      const env = { ...process.env };
      delete env.DBP_DEBUG;
      const r = spawnSync(process.execPath, [BIN, '--log-level', 'error', ...c.args()], { encoding: 'utf8', env, timeout: 60000 });
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stdout).to.equal('');
      expect(r.stderr).to.match(c.expect);
      expect(r.stderr).to.not.match(STACK_FRAME);
    });
  }
});
