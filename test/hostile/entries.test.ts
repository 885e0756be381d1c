/**
 * Hostile leaderboard entries given to `dbp-bench leaderboard validate`: broken files, values the
 * schema bounds, entries whose numbers contradict each other, duplicate ids (refused exactly as
 * `leaderboard build` refuses them).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LIMITS } from '@dbp-bench/framework';
import { accuracyMetric, type LeaderboardEntry } from '@dbp-bench/leaderboard';
import { put, validEntry } from './builders';
import { editedJsonRow, hostileRows, runHostile, type HostileRow } from './harness';

type E = LeaderboardEntry & Record<string, any>;

/** A row that writes validEntry() changed by `edit` (or raw text) and validates it. */
function entryRow(name: string, edit: ((e: E) => void) | string, expectRe: RegExp): HostileRow {
  return editedJsonRow(
    name,
    { base: () => validEntry() as E, file: 'entry.json', args: (file) => ['leaderboard', 'validate', file] },
    edit,
    expectRe,
  );
}

const ROWS: HostileRow[] = [
  // The file
  {
    name: 'entry: missing file',
    setup: (dir) => ({ args: ['leaderboard', 'validate', path.join(dir, 'gone.json')], names: 'gone.json' }),
    expect: /gone\.json not found: expected a leaderboard entry JSON file/,
  },
  {
    name: 'entry: build from a folder that does not exist',
    setup: (dir) => ({ args: ['leaderboard', 'build', path.join(dir, 'entries'), '--out', path.join(dir, 'site')], names: 'entries' }),
    expect: /entries not found: expected a directory of leaderboard entries/,
  },
  entryRow('entry: not JSON', '{"schemaVersion": 1,', /entry\.json: not valid JSON/),
  entryRow(
    'entry: larger than the 4 MiB limit',
    (e) => (e.footnote = 'f'.repeat(LIMITS.entryBytes)),
    new RegExp(`may be at most ${LIMITS.entryBytes} bytes`),
  ),
  entryRow('entry: nested 1,000 deep', `{"a": ${'['.repeat(1000)}${']'.repeat(1000)}}`, /JSON nests 1001 levels deep/),
  // Schema bounds
  entryRow('entry: unknown field', (e) => (e.script = 'alert(1)'), /\$\.script: is not a known field/),
  entryRow('entry: wrong schema version', (e) => ((e as { schemaVersion: number }).schemaVersion = 2), /\$\.schemaVersion: must be 1/),
  entryRow('entry: unknown kind', (e) => (e.kind = 'estimated' as never), /\$\.kind: must be one of "measured", "reported"/),
  entryRow(
    'entry: a number written as a string',
    (e) => (e.results.clean = { ...e.results.clean!, value: '90' as never }),
    /\$\.results\.clean/,
  ),
  entryRow('entry: accuracy above 100', (e) => (e.values.measured!.robust = 140), /\$\.values\.measured/),
  entryRow(
    'entry: unknown norm',
    (e) => (e.threatModel.norm = 'l1' as never),
    /\$\.threatModel\.norm: must be one of "linf", "l2", "none"/,
  ),
  entryRow('entry: a name of 1,000 characters', (e) => (e.name = 'n'.repeat(1000)), /\$\.name: must NOT have more than 200 characters/),
  entryRow(
    'entry: a 50,000-character description',
    (e) => (e.description = 'd'.repeat(50000)),
    /\$\.description: must NOT have more than 10000 characters/,
  ),
  entryRow(
    'entry: a 20,000-character footnote',
    (e) => (e.footnote = 'f'.repeat(20000)),
    /\$\.footnote: must NOT have more than 10000 characters/,
  ),
  entryRow('entry: negative sample count', (e) => (e.dataset.n = -4), /\$\.dataset\.n: must be >= 0/),
  // Budgets
  entryRow(
    'entry: l_inf eps 5 (linf-1275_255)',
    (e) => (e.threatModel = { id: 'linf-1275_255', norm: 'linf', eps: { value: 5, display: '1275/255' } }),
    /\$\.threatModel\.eps\.value: 5 is outside \(0, 1\]/,
  ),
  entryRow('entry: eps 0', (e) => (e.threatModel.eps = { value: 0, display: '0' }), /\$\.threatModel\.eps\.value: 0 is outside \(0, 1\]/),
  entryRow(
    'entry: l_2 eps 1e308',
    (e) => (e.threatModel = { id: 'l2-big', norm: 'l2', eps: { value: 1e308, display: 'big' } }),
    /\$\.threatModel\.eps\.value: 1e\+308 is outside \(0, 1000\]/,
  ),
  entryRow(
    'entry: a budget with norm none',
    (e) => (e.threatModel = { id: 'clean', norm: 'none', eps: { value: 0.1, display: '0.1' } }),
    /\$\.threatModel\.eps\.value: a budget \(0\.1\) with norm 'none'/,
  ),
  entryRow(
    'entry: a protocol attack with l_inf eps 3',
    (e) => (e.protocol!.attacks[0].eps = 3),
    /\$\.protocol\.attacks\[0\]\.eps: 3 is outside \(0, 1\]/,
  ),
  // Consistency of the numbers
  entryRow(
    'entry: successes > n',
    (e) => (e.results.clean = { ...e.results.clean!, successes: 70 }),
    /\$\.results\.clean\.successes: 70 is more than n = 64/,
  ),
  entryRow(
    'entry: value is not 100 * successes / n',
    (e) => (e.results.clean = { ...e.results.clean!, value: 95 }),
    /\$\.results\.clean\.value: 95 is not 100 \* successes \/ n = 100 \* 58 \/ 64 = 90\.625/,
  ),
  entryRow(
    'entry: interval bounds reversed',
    (e) => (e.results.clean!.ci = { ...e.results.clean!.ci!, lower: 95, upper: 85 }),
    /\$\.results\.clean\.ci: lower bound 95 is above the upper bound 85/,
  ),
  entryRow(
    'entry: a metric over more samples than the dataset',
    (e) => (e.results.robust = accuracyMetric(30, 100)),
    /\$\.results\.robust\.n: 100 is more than the dataset's n = 64/,
  ),
  entryRow(
    'entry: measured metric over fewer samples than the dataset',
    (e) => (e.results.clean = accuracyMetric(20, 32)),
    /\$\.results\.clean\.n: 32, but a measured entry evaluates all dataset\.n = 64 samples/,
  ),
  entryRow(
    'entry: attacked more samples than the dataset has',
    (e) => (e.results.attacks[0].attacked = 65),
    /\$\.results\.attacks\[0\]\.attacked: 65 is more than the dataset's n = 64/,
  ),
  entryRow(
    'entry: attack checks count more robust samples than ran',
    (e) => (e.results.attacks[0].checks!.robust = 59),
    /\$\.results\.attacks\[0\]\.checks\.robust: 59 is more than ran = 58/,
  ),
  entryRow(
    'entry: unmoved count inconsistent',
    (e) => Object.assign(e.results.attacks[0].checks!, { stalled: 3, gradientVanished: 2, unmoved: 9 }),
    /\$\.results\.attacks\[0\]\.checks\.unmoved: 9 must lie between max\(stalled, gradientVanished\) = 3 and their sum 5/,
  ),
  entryRow(
    'entry: a flagged attack without stalledAttack',
    (e) => Object.assign(e.results.attacks[0].checks!, { stalled: 3, unmoved: 3, flags: ['stalled'] }),
    /\$\.flags\.stalledAttack: an attack is flagged/,
  ),
  entryRow(
    'entry: stalledAttack but not unreliable',
    (e) => (e.flags.stalledAttack = true),
    /\$\.flags\.unreliable: must be true when flags\.stalledAttack is true/,
  ),
  entryRow(
    'entry: robust accuracy above clean accuracy',
    (e) => {
      e.results.attacks[0].accuracy = accuracyMetric(60, 64);
      e.results.robust = accuracyMetric(60, 64);
    },
    /\$\.results\.attacks\[0\]\.accuracy\.value: 93\.75 is above \$\.results\.clean \(90\.625\)/,
  ),
  entryRow(
    'entry: robust differs from the last attack',
    (e) => (e.results.robust = accuracyMetric(20, 64)),
    /\$\.results\.robust\.value: 31\.25 differs from the last attack's accuracy 46\.875/,
  ),
  entryRow(
    'entry: more result records than samples',
    (e) => (e.resultsFile = { path: 'r.jsonl', sha256: 'b'.repeat(64), records: 65 }),
    /\$\.resultsFile\.records: 65 is more than the dataset\.n = 64/,
  ),
  // Duplicate ids
  {
    name: 'entries: the same id twice in one folder (as `leaderboard build` refuses)',
    setup: (dir) => {
      put(dir, 'entries/cifar10/linf-8_255/a.json', validEntry('same'));
      const second = put(dir, 'entries/cifar10/linf-8_255/b.json', validEntry('same'));
      return { args: ['leaderboard', 'validate', path.join(dir, 'entries')], names: second };
    },
    expect:
      /b\.json: two entries have id 'same' for cifar10\/linf-8_255 \(the first: .*a\.json\); entry ids must be unique per dataset and threat model/,
  },
  {
    name: 'entries: the same id in two files given separately',
    setup: (dir) => {
      const a = put(dir, 'x/a.json', validEntry('twin'));
      const b = put(dir, 'y/b.json', validEntry('twin'));
      return { args: ['leaderboard', 'validate', a, b], names: b };
    },
    expect: /two entries have id 'twin' for cifar10\/linf-8_255/,
  },
];

describe('hostile inputs: leaderboard entries (dbp-bench leaderboard validate)', () => {
  hostileRows(ROWS);

  it('validate and build refuse duplicate ids with the same message', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbp-hostile-'));
    try {
      put(dir, 'entries/cifar10/linf-8_255/a.json', validEntry('same'));
      put(dir, 'entries/cifar10/linf-8_255/b.json', validEntry('same'));
      const v = await runHostile(['leaderboard', 'validate', path.join(dir, 'entries')]);
      const b = await runHostile(['leaderboard', 'build', path.join(dir, 'entries'), '--out', path.join(dir, 'site')]);
      expect(v.exit).to.equal(1);
      expect(b.exit).to.equal(1);
      expect(v.error!.message).to.equal(b.error!.message);
      // and alone the entry passes the schema and the id rule: validate names only that this
      // hand-made measured entry has no per-sample results file to re-compute it from
      const ok = await runHostile(['leaderboard', 'validate', path.join(dir, 'entries/cifar10/linf-8_255/a.json')]);
      expect(ok.text).to.not.include('two entries');
      expect(ok.text).to.include('a.json: $.resultsFile: a measured entry comes with its per-sample results file');
      expect(ok.exit).to.equal(1);
      expect(ok.text).to.include('1 of 1 entry failed validation');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
