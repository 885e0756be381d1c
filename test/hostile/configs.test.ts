/**
 * Hostile run configs: `dbp-bench validate <config>` must refuse each one with a message naming the
 * file or the JSON path of the field and saying what was expected.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIMITS } from '@dbp-bench/framework';
import { put, validConfig } from './builders';
import { editedJsonRow, hostileRows, type HostileRow } from './harness';

type Cfg = Record<string, any>;

/** A row that writes `validConfig()` changed by `edit` (or raw text) and validates it. */
function cfgRow(name: string, edit: ((c: Cfg) => void) | string, expectRe: RegExp): HostileRow {
  return editedJsonRow(
    name,
    { base: () => validConfig() as Cfg, file: 'config.json', args: (file) => ['validate', '--quiet', file] },
    edit,
    expectRe,
  );
}

const pgd =
  (options: Cfg): ((c: Cfg) => void) =>
  (c) =>
    (c.attacks = [{ id: 'pgd', options }]);

const ROWS: HostileRow[] = [
  // The file itself
  {
    name: 'config: missing file',
    setup: (dir) => ({ args: ['validate', path.join(dir, 'nope.json')], names: 'nope.json' }),
    expect: /nope\.json not found: expected a JSON config file/,
  },
  {
    name: 'config: the path is a directory',
    setup: (dir) => ({ args: ['validate', dir], names: dir }),
    expect: /is a directory, expected a JSON config file/,
  },
  {
    name: 'config: unreadable (EACCES)',
    skip: () => (process.getuid?.() === 0 ? 'root reads any file' : undefined),
    setup: (dir) => {
      const file = put(dir, 'config.json', validConfig());
      fs.chmodSync(file, 0o000);
      return { args: ['validate', file], names: file };
    },
    expect: /config\.json: permission denied \(EACCES\) reading a JSON config file/,
  },
  cfgRow('config: empty file', '', /not valid JSON/),
  cfgRow('config: not JSON', 'name = "x"', /not valid JSON/),
  cfgRow('config: JSON array at the top', '[1, 2, 3]', /\$: must be object/),
  cfgRow('config: JSON null', 'null', /\$: must be object/),
  cfgRow(
    'config: nested 10,000 deep',
    '['.repeat(10000) + ']'.repeat(10000),
    new RegExp(`nests 10000 levels deep; at most ${LIMITS.jsonDepth}`),
  ),
  cfgRow(
    'config: larger than the 1 MiB limit',
    (c) => (c.description = 'x'.repeat(LIMITS.configBytes)),
    new RegExp(`may be at most ${LIMITS.configBytes} bytes`),
  ),
  cfgRow(
    'config: a number overflowing to Infinity (eps 1e999)',
    JSON.stringify(validConfig()).replace('"steps":1', '"steps":1,"eps":1e999'),
    /\$\.attacks\[0\]\.options\.eps: the number overflows a double/,
  ),
  // Top-level fields
  cfgRow('config: unknown top-level field', (c) => (c.atacks = []), /\$\.atacks: is not a known field/),
  cfgRow('config: name missing', (c) => delete c.name, /\$\.name: is required/),
  cfgRow('config: name with a path separator', (c) => (c.name = '../../etc'), /\$\.name: must match pattern/),
  cfgRow('config: name longer than 128 characters', (c) => (c.name = 'n'.repeat(129)), /\$\.name: must match pattern/),
  cfgRow(
    'config: description of 50,000 characters',
    (c) => (c.description = 'd'.repeat(50000)),
    /\$\.description: must NOT have more than 10000 characters/,
  ),
  cfgRow('config: seed negative', (c) => (c.seed = -1), /\$\.seed: must be >= 0/),
  cfgRow('config: seed not an integer', (c) => (c.seed = 1.5), /\$\.seed: must be integer/),
  cfgRow('config: seed beyond 2^53', (c) => (c.seed = 2 ** 60), /\$\.seed: must be <= 9007199254740991/),
  cfgRow('config: plugins not a list', (c) => (c.plugins = './p.js'), /\$\.plugins: must be array/),
  {
    name: 'config: plugin module that does not exist',
    setup: (dir) => ({
      args: ['validate', put(dir, 'config.json', { ...validConfig(), plugins: ['./no-such-plugin.js'] })],
      names: 'no-such-plugin.js',
    }),
    expect: /cannot load plugin module '\.\/no-such-plugin\.js': no file or directory at .*no-such-plugin\.js/,
  },
  // Classifier, dataset, defense
  cfgRow('config: classifier missing', (c) => delete c.classifier, /\$\.classifier: is required/),
  cfgRow(
    'config: classifier weights empty',
    (c) => (c.classifier.weights = ''),
    /\$\.classifier\.weights: must NOT have fewer than 1 characters/,
  ),
  cfgRow(
    'config: classifier weights path of 5,000 characters',
    (c) => (c.classifier.weights = 'w/'.repeat(2500)),
    /\$\.classifier\.weights: must NOT have more than 4096 characters/,
  ),
  cfgRow('config: unknown dataset id', (c) => (c.dataset.id = 'imagenet-1k'), /\$\.dataset\.id: must be one of .*"synthetic"/),
  cfgRow(
    'config: dataset option of the wrong type',
    (c) => (c.dataset.options.size = 'four'),
    /\$\.dataset\.options\.size: must be integer/,
  ),
  cfgRow('config: subset of zero images', (c) => (c.dataset.subset = { kind: 'first', n: 0 }), /\$\.dataset\.subset\.n: must be >= 1/),
  cfgRow('config: subset of an unknown kind', (c) => (c.dataset.subset = { kind: 'last', n: 4 }), /\$\.dataset\.subset/),
  cfgRow(
    'config: subset with a negative index',
    (c) => (c.dataset.subset = { kind: 'indices', indices: [0, -3] }),
    /\$\.dataset\.subset\.indices\[1\]: must be >= 0/,
  ),
  cfgRow('config: unknown defense id', (c) => (c.defense = { id: 'magic-shield' }), /\$\.defense\.id: must be one of/),
  cfgRow(
    'config: defense option out of range',
    (c) => (c.defense = { id: 'dp-ddpm', options: { numInferenceSteps: 10 ** 6 } }),
    /\$\.defense\.options\.numInferenceSteps: must be <= 1000/,
  ),
  // Attacks and budgets
  cfgRow('config: attacks missing', (c) => delete c.attacks, /\$\.attacks: is required/),
  cfgRow('config: empty attack list', (c) => (c.attacks = []), /\$\.attacks: must NOT have fewer than 1 items/),
  cfgRow('config: unknown attack id', (c) => (c.attacks = [{ id: 'cw-l2' }]), /\$\.attacks\[0\]\.id: must be one of/),
  cfgRow(
    'config: attack option that is not known',
    (c) => (c.attacks = [{ id: 'pgd', options: { epsilon: 0.1 } }]),
    /\$\.attacks\[0\]\.options\.epsilon: is not a known field/,
  ),
  cfgRow('config: attack label empty', (c) => (c.attacks[0].name = ''), /\$\.attacks\[0\]\.name: must NOT have fewer than 1 characters/),
  cfgRow('config: eps 0', pgd({ eps: 0 }), /\$\.attacks\[0\]\.options\.eps: must be > 0/),
  cfgRow('config: eps negative', pgd({ eps: -0.1 }), /\$\.attacks\[0\]\.options\.eps: must be > 0/),
  cfgRow('config: l_inf eps 5 (larger than the pixel range)', pgd({ eps: 5 }), /\$\.attacks\[0\]\.options\.eps: must be <= 1/),
  cfgRow('config: l_2 eps 1e308', pgd({ norm: 'l2', eps: 1e308 }), /\$\.attacks\[0\]\.options\.eps: must be <= 1000/),
  cfgRow('config: eps as a string', pgd({ eps: '8/255' }), /\$\.attacks\[0\]\.options\.eps: must be number,null/),
  cfgRow('config: l_inf step size 2', pgd({ stepSize: 2 }), /\$\.attacks\[0\]\.options\.stepSize: must be <= 1/),
  cfgRow('config: step size 0', pgd({ stepSize: 0 }), /\$\.attacks\[0\]\.options\.stepSize: must be > 0/),
  cfgRow('config: zero steps', pgd({ steps: 0 }), /\$\.attacks\[0\]\.options\.steps: must be >= 1/),
  cfgRow('config: norm l1', pgd({ norm: 'l1' }), /\$\.attacks\[0\]\.options\.norm: must be one of "linf", "l2"/),
  cfgRow('config: EoT with zero samples', pgd({ eot: { samples: 0 } }), /\$\.attacks\[0\]\.options\.eot\.samples: must be >= 1/),
  cfgRow(
    'config: apgd l_inf eps 2',
    (c) => (c.attacks = [{ id: 'apgd', options: { eps: 2 } }]),
    /\$\.attacks\[0\]\.options\.eps: must be <= 1/,
  ),
  cfgRow(
    'config: apgd without losses',
    (c) => (c.attacks = [{ id: 'apgd', options: { losses: [] } }]),
    /\$\.attacks\[0\]\.options\.losses: must NOT have fewer than 1 items/,
  ),
  cfgRow(
    'config: dw-box with an unknown policy',
    (c) => (c.attacks = [{ id: 'dw-box', options: { policy: 'all' } }]),
    /\$\.attacks\[0\]\.options\.policy: must be one of "fwd", "rev", "both"/,
  ),
  cfgRow(
    'config: dw-box eps 0',
    (c) => (c.attacks = [{ id: 'dw-box', options: { eps: 0 } }]),
    /\$\.attacks\[0\]\.options\.eps: must be > 0/,
  ),
  // Evaluation, leaderboard, output
  cfgRow('config: batch size 0', (c) => (c.evaluation.batchSize = 0), /\$\.evaluation\.batchSize: must be >= 1/),
  cfgRow('config: zero purifications', (c) => (c.evaluation = { purifications: 0 }), /\$\.evaluation\.purifications: must be >= 1/),
  cfgRow(
    'config: unknown leaderboard family',
    (c) => (c.leaderboard = { family: 'magic' }),
    /\$\.leaderboard\.family: must be one of "dbp", "at", "none"/,
  ),
  cfgRow(
    'config: leaderboard threat model with a slash',
    (c) => (c.leaderboard = { threatModel: '../linf' }),
    /\$\.leaderboard\.threatModel: must match pattern/,
  ),
  cfgRow(
    'config: leaderboard notes of 20,000 characters',
    (c) => (c.leaderboard = { notes: 'n'.repeat(20000) }),
    /\$\.leaderboard\.notes: must NOT have more than 10000 characters/,
  ),
  cfgRow(
    'config: leaderboard model name of 1,000 characters',
    (c) => (c.leaderboard = { model: 'm'.repeat(1000) }),
    /\$\.leaderboard\.model: must NOT have more than 200 characters/,
  ),
  cfgRow('config: output dir empty', (c) => (c.output.dir = ''), /\$\.output\.dir: must NOT have fewer than 1 characters/),
];

describe('hostile inputs: run configs (dbp-bench validate)', () => {
  hostileRows(ROWS);
});
