/**
 * The leaderboard by defense: entries grouped into one row per (defense, classifier, threat model),
 * with a column per attack family / noise policy and a headline worst case over all attacks.
 *
 * - Threat models are canonicalised: an l_inf budget within 1.5% of k/255 is `k/255` (0.031,
 *   0.0314 and 0.03137 all read 8/255), an l_2 budget is its value to 3 significant digits.
 * - Two entries share a row when their dataset, norm, canonical budget, defense (family, id and
 *   options, a vote wrapper's settings included since they live in the options) and classifier (weights
 *   sha256, else architecture + weights, else the entry name) agree.
 * - A protocol attack's family comes from its plugin id and noise policy (`attackFamily`); each cell is
 *   the lowest Avg.Rob after-attack accuracy (`results.attacks[].accuracy`) of that family over the
 *   row's entries, and links to the entry page that gave it.
 * - The headline is the minimum over every attack of every entry of the row (equal to the lowest
 *   `results.robust`), with its 95% interval and the attack that gave it.
 */
import { canonicalJson } from '@dbp-bench/core';
import type { AttackResult, LeaderboardEntry, Metric, ProtocolAttack } from './entry';

/** The columns of the by-defense table, in order. */
export const ATTACK_FAMILIES = [
  { id: 'pgd-eot', label: 'PGD+EoT', title: 'PGD with EoT over fresh noise (gradients averaged over EoT draws)' },
  { id: 'apgd-rand', label: 'APGD / AA-rand', title: 'APGD, AutoAttack and their randomized (EoT) versions, fresh noise' },
  { id: 'diffhammer', label: 'DiffHammer', title: 'DiffHammer (selective EoT over N purifications)' },
  { id: 'dw-fwd', label: 'DW_Fwd', title: 'noise replay of the forward (diffusion) noise: DW-box, noise policy fwd' },
  { id: 'dw-rev', label: 'DW_Rev', title: 'noise replay of the reverse (denoising) noise: DW-box, noise policy rev' },
  { id: 'dw-both', label: 'DW_Both', title: 'noise replay of forward and reverse noise: DW-box, noise policy both' },
  { id: 'other', label: 'Other', title: 'any other attack (imported external evaluations included)' },
] as const;
export type AttackFamilyId = (typeof ATTACK_FAMILIES)[number]['id'];

/** The family of a protocol attack: noise replay by its policy, else by plugin id. */
export function attackFamily(a: Pick<ProtocolAttack, 'id' | 'noisePolicy'>): AttackFamilyId {
  if (a.noisePolicy === 'fwd') return 'dw-fwd';
  if (a.noisePolicy === 'rev') return 'dw-rev';
  if (a.noisePolicy === 'both') return 'dw-both';
  const id = a.id.toLowerCase();
  if (id === 'pgd' || id === 'pgd-eot') return 'pgd-eot';
  if (id === 'apgd' || id === 'apgd-rand' || id === 'autoattack' || id === 'autoattack-rand' || id === 'apgd-eot') return 'apgd-rand';
  if (id === 'diffhammer') return 'diffhammer';
  return 'other';
}

/** A canonical budget: a key to group on, the label shown, and the exact values it stands for. */
export interface CanonicalEps {
  key: string;
  label: string;
}

/**
 * `k/255` for an l_inf budget within 1.5% of a multiple k/255 (0.031, 0.0314, 0.03137 are 8/255; 0.02 is
 * not 5/255), unless it is a decimal of at most two places (MNIST's 0.3 stays 0.3, not 77/255; 0.2 is
 * not 51/255); 3 significant digits otherwise.
 */
export function canonicalEps(norm: string, eps: number | null | undefined): CanonicalEps {
  if (norm === 'none' || eps === null || eps === undefined) return { key: 'none', label: 'no attack' };
  const shortDecimal = Math.abs(eps * 100 - Math.round(eps * 100)) < 1e-9;
  if (norm === 'linf' && !shortDecimal) {
    const k = eps * 255;
    const r = Math.round(k);
    if (r >= 1 && Math.abs(k - r) <= 0.015 * r) return { key: `${r}/255`, label: `${r}/255` };
  }
  const v = String(Number(eps.toPrecision(3)));
  return { key: v, label: v };
}

/** Key and label of an entry's canonical threat model section: dataset, norm and canonical budget. */
export function sectionKey(e: LeaderboardEntry): string {
  return `${e.dataset.id}\u0000${e.threatModel.norm}\u0000${canonicalEps(e.threatModel.norm, e.threatModel.eps?.value).key}`;
}
export function sectionLabel(e: LeaderboardEntry): string {
  const t = e.threatModel;
  if (t.norm === 'none' || !t.eps) return 'clean (no attack)';
  return `${t.norm === 'linf' ? 'Linf' : 'L2'}, eps = ${canonicalEps(t.norm, t.eps.value).label}`;
}

/** What identifies the classifier: its weights' sha256, else architecture + weights, else the entry name. */
export function classifierKey(e: LeaderboardEntry): string {
  const c = e.classifier;
  if (c.sha256) return `sha256:${c.sha256}`;
  if (c.architecture || c.weights) return `arch:${c.architecture ?? ''}|${c.weights ?? ''}${e.kind === 'reported' ? `|${e.name}` : ''}`;
  return `name:${e.name}`;
}

/** The row key of an entry: section, defense family/id/options and classifier. */
export function rowKey(e: LeaderboardEntry): string {
  return [sectionKey(e), e.defense.family, e.defense.id, canonicalJson(e.defense.options ?? {}), classifierKey(e)].join('\u0001');
}

/** One result of one attack of one entry, with the family its protocol attack belongs to. */
export interface AttackCell<P> {
  family: AttackFamilyId;
  page: P;
  entry: LeaderboardEntry;
  attack: AttackResult;
  protocol?: ProtocolAttack;
}

export interface DefenseRow<P> {
  key: string;
  entries: { page: P; entry: LeaderboardEntry }[];
  /** Lowest accuracy per family (ties: the first entry). */
  cells: Map<AttackFamilyId, AttackCell<P>>;
  /** The lowest accuracy over every attack of every entry. */
  worst: AttackCell<P> | null;
  /** Clean accuracy: of the entry evaluated on the most samples. */
  clean: { page: P; metric: Metric } | null;
}

/** The protocol attack of a result: same name, else same position and id. */
function protocolOf(e: LeaderboardEntry, a: AttackResult, i: number): ProtocolAttack | undefined {
  const list = e.protocol?.attacks ?? [];
  return list.find((p) => p.name === a.name) ?? (list[i]?.id === a.id ? list[i] : undefined) ?? list.find((p) => p.id === a.id);
}

/** The family of an attack result of an entry (from its protocol attack; by id when there is none). */
export function resultFamily(e: LeaderboardEntry, a: AttackResult, i: number): AttackFamilyId {
  return attackFamily(protocolOf(e, a, i) ?? { id: a.id, noisePolicy: 'fresh' });
}

/** Group entries into rows, rows sorted by the headline worst case (highest first; rows without one last). */
export function defenseRows<P>(items: readonly { page: P; entry: LeaderboardEntry }[]): DefenseRow<P>[] {
  const rows = new Map<string, DefenseRow<P>>();
  for (const it of items) {
    const key = rowKey(it.entry);
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { key, entries: [], cells: new Map(), worst: null, clean: null }));
    row.entries.push(it);
    const e = it.entry;
    e.results.attacks.forEach((a, i) => {
      const cell: AttackCell<P> = { family: resultFamily(e, a, i), page: it.page, entry: e, attack: a, protocol: protocolOf(e, a, i) };
      const prev = row!.cells.get(cell.family);
      if (!prev || a.accuracy.value < prev.attack.accuracy.value) row!.cells.set(cell.family, cell);
      if (!row!.worst || a.accuracy.value < row!.worst.attack.accuracy.value) row!.worst = cell;
    });
    const c = e.results.clean;
    if (c && (!row.clean || (c.n ?? 0) > (row.clean.metric.n ?? 0))) row.clean = { page: it.page, metric: c };
  }
  return [...rows.values()].sort((a, b) => (b.worst?.attack.accuracy.value ?? -1) - (a.worst?.attack.accuracy.value ?? -1));
}

/** A row's display name: the paper title of an imported entry, else the common start of its entries' names. */
export function rowName(row: DefenseRow<unknown>): string {
  const names = row.entries.map((x) => x.entry.name);
  if (names.length === 1) return names[0];
  let prefix = names[0];
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  // Cut back to a word boundary: a shared start that ends inside a word names nothing.
  if (!names.every((n) => n.length === prefix.length || /[\s(,;:+]/.test(n[prefix.length]))) prefix = prefix.replace(/\S*$/, '');
  prefix = prefix.replace(/[\s(,;:+-]+$/, '');
  if (prefix.length >= 3) return prefix;
  const e = row.entries[0].entry;
  return `${e.defense.id}${e.classifier.architecture ? ` + ${e.classifier.architecture}` : ''}`;
}
