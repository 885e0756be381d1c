/**
 * Import RobustBench `model_info/<dataset>/<threat>/<Model>.json` files as reported leaderboard entries,
 * so adversarial-training baselines sit next to measured DBP entries.
 *
 * RobustBench stores numbers as strings (`"clean_acc": "89.69"`), the budget as a string (`"8/255"`,
 * `"0.5"`), the threat model only in the directory name (`Linf`, `L2`, `corruptions`), and an optional
 * `external` robust accuracy from a stronger outside evaluation that overrides `autoattack_acc`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DataFormatError,
  FRAMEWORK_VERSION,
  LIMITS,
  MissingFileError,
  isSafeId,
  readJsonChecked,
  type Logger,
  silentLogger,
} from '@dbp-bench/core';
import { parseEps, reportedMetric, threatId, validateEntry, type LeaderboardEntry } from './entry';
import { urlProblem } from './url';

/** The fields of a RobustBench model_info file this importer reads. */
export interface RobustBenchModelInfo {
  link?: string;
  name?: string;
  authors?: string;
  additional_data?: boolean;
  number_forward_passes?: number;
  dataset?: string;
  venue?: string;
  architecture?: string;
  eps?: string | null;
  clean_acc?: string;
  reported?: string;
  autoattack_acc?: string;
  external?: string;
  footnote?: string;
  unreliable?: boolean;
}

export interface ImportOptions {
  /** Threat model when the path has no `Linf`/`L2` directory: `Linf` or `L2`. */
  threat?: string;
  /** Time written as provenance.importedAt (default now). */
  now?: Date;
  logger?: Logger;
}

export interface ImportResult {
  entries: { source: string; entry: LeaderboardEntry }[];
  skipped: { source: string; reason: string }[];
}

const THREAT_DIRS: Record<string, 'linf' | 'l2' | 'corruptions'> = {
  linf: 'linf',
  l2: 'l2',
  corruptions: 'corruptions',
  corruptions_3d: 'corruptions',
};

function listJson(p: string): string[] {
  if (!fs.existsSync(p)) throw new MissingFileError(p, 'expected a RobustBench model_info JSON file or a directory of them');
  if (fs.statSync(p).isFile()) return [p];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const q = path.join(d, name);
      if (fs.statSync(q).isDirectory()) walk(q);
      else if (name.endsWith('.json')) out.push(q);
    }
  };
  walk(p);
  return out;
}

/** `"89.69"` -> 89.69; `""`/absent -> null; anything else is a DataFormatError naming the field. */
function percent(file: string, info: RobustBenchModelInfo, field: keyof RobustBenchModelInfo, required: boolean): number | null {
  const v = info[field];
  if (v === undefined || v === null || v === '') {
    if (required) throw new DataFormatError(file, `field '${field}' is missing (expected a percentage such as "89.69")`);
    return null;
  }
  const s = String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s))
    throw new DataFormatError(file, `field '${field}' is ${JSON.stringify(v)}, expected a percentage such as "89.69"`);
  const x = Number(s);
  if (x < 0 || x > 100) throw new DataFormatError(file, `field '${field}' is ${x}, expected a percentage in [0, 100]`);
  return x;
}

/** Footnotes hold HTML and LaTeX for RobustBench's site; keep readable text only. */
export function footnoteText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/\\\(\s*\\ell_\{?\\infty\}?\s*\\\)/g, 'Linf')
    .replace(/\\\(\s*\\ell_2\s*\\\)/g, 'L2')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

/** The model name as the tail of an entry id: letters, digits, . _ - only, at most 116 characters (`robustbench-` + 116 = 128). */
function safeId(s: string): string {
  return (
    s
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 116) || 'model'
  );
}

/** Words of a model name, title or footnote that mark a diffusion-based purification defense. */
const DBP_WORDS = /diffusion|diffpure|purif|score[- ]?based|denois/i;
/** Words that mark a randomized (stochastic) defense. */
const RANDOM_WORDS = /randomi[sz]|stochastic|random (noise|transformation|resiz)|noise injection/i;

/**
 * Whether a RobustBench model is a randomized defense, and a diffusion-based purification (DBP) one:
 * DBP when its name, title or footnote speak of diffusion, purification, score-based models or
 * denoising; randomized when DBP, when they speak of randomization / stochastic defenses, or when
 * RobustBench records more than one forward pass per prediction (`number_forward_passes` > 1: an
 * average over several stochastic passes). Randomized defenses are never imported as family `at`.
 */
export function randomizedKind(model: string, info: RobustBenchModelInfo): { randomized: boolean; dbp: boolean; why: string } {
  const text = [model, info.name, info.footnote].filter((t): t is string => typeof t === 'string').join(' ');
  const dbp = DBP_WORDS.test(text);
  const fwd = typeof info.number_forward_passes === 'number' ? info.number_forward_passes : 1;
  const reasons: string[] = [];
  if (dbp) reasons.push('diffusion/purification defense');
  else if (RANDOM_WORDS.test(text)) reasons.push('described as randomized');
  if (fwd > 1) reasons.push(`${fwd} forward passes per prediction`);
  return { randomized: reasons.length > 0, dbp, why: reasons.join(', ') };
}

/** Convert one model_info file. */
export function importRobustBenchFile(file: string, options: ImportOptions = {}): LeaderboardEntry {
  const info = readJsonChecked(file, 'a RobustBench model_info JSON file', LIMITS.configBytes) as RobustBenchModelInfo;
  if (!info || typeof info !== 'object' || Array.isArray(info))
    throw new DataFormatError(file, 'expected a JSON object (RobustBench model_info)');
  const segments = path.resolve(file).split(path.sep);
  const fromDir = segments
    .map((s) => THREAT_DIRS[s.toLowerCase()])
    .filter(Boolean)
    .pop();
  const given = options.threat ? THREAT_DIRS[options.threat.toLowerCase()] : undefined;
  if (options.threat && !given) throw new DataFormatError(file, `threat '${options.threat}' is not one of Linf, L2`);
  const threat = fromDir ?? given;
  if (!threat)
    throw new DataFormatError(
      file,
      'cannot tell the threat model: the path has no Linf/L2 directory (RobustBench layout model_info/<dataset>/<threat>/<Model>.json); pass --threat Linf|L2',
    );
  if (threat === 'corruptions') throw new DataFormatError(file, 'common-corruption entries are not imported (no Lp threat model)');
  const model = path.basename(file, '.json');
  const dataset = typeof info.dataset === 'string' && info.dataset ? info.dataset : segments[segments.length - 3];
  if (!isSafeId(dataset))
    throw new DataFormatError(file, `field 'dataset' is ${JSON.stringify(info.dataset)}, expected a dataset id such as "cifar10"`);
  if (info.eps === undefined || info.eps === null || info.eps === '')
    throw new DataFormatError(file, `field 'eps' is missing (expected e.g. "8/255")`);
  let eps: number;
  try {
    eps = parseEps(info.eps, `${file}: field 'eps'`);
  } catch (cause) {
    throw new DataFormatError(file, (cause as Error).message, { cause });
  }
  const clean = percent(file, info, 'clean_acc', true) as number;
  const autoattack = percent(file, info, 'autoattack_acc', true) as number;
  const reported = percent(file, info, 'reported', false);
  const external = percent(file, info, 'external', false);
  const bestRobust = external ?? autoattack;
  const fwd = info.number_forward_passes;
  if (fwd !== undefined && (typeof fwd !== 'number' || !(fwd >= 0)))
    throw new DataFormatError(file, `field 'number_forward_passes' is ${JSON.stringify(fwd)}, expected a non-negative number`);
  const standard = /^standard/i.test(model) && autoattack === 0;
  const kindOf = randomizedKind(model, info);
  const architecture = typeof info.architecture === 'string' ? info.architecture : null;
  if (info.link !== undefined && info.link !== '') {
    const problem = urlProblem(info.link);
    if (problem) throw new DataFormatError(file, `field 'link': ${problem}`);
  }
  const paperUrl = typeof info.link === 'string' && info.link ? info.link : undefined;
  const footnote = typeof info.footnote === 'string' ? footnoteText(info.footnote) : undefined;
  const attacks: LeaderboardEntry['results']['attacks'] = [
    { name: 'AutoAttack', id: 'autoattack', accuracy: reportedMetric(autoattack, null) },
  ];
  if (external !== null)
    attacks.push({ name: 'external evaluation', id: 'external', accuracy: reportedMetric(Math.min(external, autoattack), null) });
  const entry: LeaderboardEntry = {
    schemaVersion: 1,
    id: `robustbench-${safeId(model)}`,
    kind: 'reported',
    name: architecture ? `${model} (${architecture})` : model,
    ...(info.name ? { description: info.name } : {}),
    paper: {
      ...(info.name ? { title: info.name } : {}),
      ...(info.authors ? { authors: info.authors } : {}),
      ...(paperUrl ? { url: paperUrl } : {}),
      ...(info.venue ? { venue: info.venue } : {}),
    },
    dataset: { id: dataset, split: 'test', n: null, subset: null, indicesHash: null },
    threatModel: { id: threatId(threat, eps), norm: threat, eps: { value: eps, display: String(info.eps).trim() } },
    defense: {
      id: model,
      family: kindOf.dbp ? 'dbp' : kindOf.randomized || standard ? 'none' : 'at',
      options: {},
      capabilities: kindOf.randomized ? { stochastic: true } : null,
    },
    classifier: {
      architecture,
      weights: null,
      sha256: null,
      additionalData: typeof info.additional_data === 'boolean' ? info.additional_data : null,
    },
    results: { clean: reportedMetric(clean, null), attacks, robust: reportedMetric(bestRobust, null) },
    values: {
      reported:
        reported !== null
          ? { clean, robust: reported, source: `paper${info.venue ? ` (${info.venue})` : ''}`, ...(paperUrl ? { url: paperUrl } : {}) }
          : null,
      measured: { clean, robust: autoattack, source: 'RobustBench (AutoAttack, standard version)', url: 'https://robustbench.github.io/' },
      bestKnown: {
        clean,
        robust: bestRobust,
        source:
          external !== null
            ? 'external evaluation (RobustBench `external` field; see footnote)'
            : 'RobustBench (AutoAttack, standard version)',
      },
    },
    protocol: {
      attacks: [
        {
          name: 'AutoAttack',
          id: 'autoattack',
          options: { version: 'standard' },
          eot: 1,
          steps: null,
          noisePolicy: 'fresh',
          gradient: 'exact',
          norm: threat,
          eps,
        },
      ],
      purifications: 1,
      aggregation: 'as evaluated by RobustBench',
    },
    flags: {
      randomized: kindOf.randomized ? true : null,
      forwardPasses: typeof fwd === 'number' ? fwd : null,
      unreliable: info.unreliable === true,
      reducedProtocol: false,
      additionalData: typeof info.additional_data === 'boolean' ? info.additional_data : null,
      sanity: kindOf.randomized
        ? [
            {
              id: 'randomized-defense',
              message: `imported from RobustBench as a randomized defense (${kindOf.why}); its AutoAttack (standard version) number is not an evaluation with EoT over the defense's randomness${external !== null ? ', see the external evaluation' : ''}`,
            },
          ]
        : [],
    },
    provenance: {
      source: 'robustbench import',
      frameworkVersion: FRAMEWORK_VERSION,
      importedFrom: segments.slice(-4).join('/'),
      importedAt: (options.now ?? new Date()).toISOString(),
    },
    resultsFile: null,
    ...(footnote ? { footnote } : {}),
  };
  return validateEntry(entry, `entry imported from ${file}`);
}

/** Convert a file or every `*.json` under a directory; files that cannot be imported are listed as skipped. */
export function importRobustBench(source: string, options: ImportOptions = {}): ImportResult {
  const logger = options.logger ?? silentLogger;
  const result: ImportResult = { entries: [], skipped: [] };
  for (const file of listJson(source)) {
    try {
      result.entries.push({ source: file, entry: importRobustBenchFile(file, options) });
    } catch (e) {
      if (!(e instanceof DataFormatError) || fs.statSync(source).isFile()) throw e;
      logger.warn(`skipping ${file}: ${(e as Error).message}`);
      result.skipped.push({ source: file, reason: (e as Error).message });
    }
  }
  return result;
}
