/**
 * Planning: from a validated run config to what a shard computes — the dataset subset and the shard's
 * batches, the attacks with the protocol each declares (framework `AttackProtocol`), the threat
 * model, the seeds, and the run identity's inputs. Nothing here evaluates a model.
 *
 * An attack is read only through its declaration (`attack.protocol()`, validated here) and its
 * `threat`; the runner never infers a protocol from option names. The entry records the declared
 * protocol with the attack's validated options (docs/RUNNER.md, "Attack protocol").
 */
import {
  GRADIENT_MODES,
  ConfigValidationError,
  DataFormatError,
  IncompatiblePluginError,
  SAFE_ID_PATTERN,
  budgetExceedsInput,
  hash32,
  isSafeId,
  targetGradientModes,
  validateSchema,
  NOISE_POLICIES,
  type NoisePolicy,
  type Attack,
  type AttackProtocol,
  type Dataset,
  type Defense,
  type DeepReadonly,
  type GradientMode,
  type JsonSchema,
  type Logger,
  type Norm,
  type PluginRegistry,
} from '@dbp-bench/framework';
import { threatId, type ProtocolAttack } from '@dbp-bench/leaderboard';
import type { RunConfig } from './config';
import type { RunnerDeps } from './deps';
import type { RunInfo } from './entry';
import { computeRunIdentity, configFiles, pluginModules, type RunIdentity, type ServingModule } from './identity';
import { shardBatches, type ShardSpec } from './shard';
import { recordedDefenseOptions } from './vote';

/** Derive a 32-bit seed for a named purpose from the run seed. */
export function deriveSeed(seed: number, purpose: string): number {
  return hash32(`${seed}:${purpose}`);
}

/**
 * The gradient mode the runner gives a target when the attack leaves it to the target: exact when the
 * defense provides it, else BPDA (which the target offers on every defense; targetGradientModes).
 */
export function defaultGradient(defense: Pick<Defense, 'capabilities'>): GradientMode {
  return targetGradientModes(defense.capabilities)[0];
}

// ------------------------------------------------------------------------------------------------
// Subset and shard

/** The images of a run and the part of them one shard computes. */
export interface SubsetPlan {
  /** Dataset index at each subset position. */
  readonly indices: number[];
  readonly indicesHash: string;
  readonly n: number;
  readonly batchSize: number;
  readonly batches: number;
  /** This shard's batches [start, end). */
  readonly range: { start: number; end: number };
  /** Number of subset positions in this shard. */
  readonly shardPositions: number;
}

/** Select the config's subset of `dataset` and cut it into batches; `shard` gets a contiguous range of them (shard.ts). */
export function planSubset(
  config: DeepReadonly<RunConfig>,
  dataset: Dataset,
  deps: Pick<RunnerDeps, 'selectSubset' | 'subsetHash'>,
  shard: Pick<ShardSpec, 'index' | 'count'>,
): SubsetPlan {
  const indices = deps.selectSubset(dataset, config.dataset.subset as RunConfig['dataset']['subset']);
  const n = indices.length;
  const batchSize = config.evaluation.batchSize;
  const batches = Math.ceil(n / batchSize);
  const range = shardBatches(batches, shard);
  const shardPositions = Math.max(0, Math.min(n, range.end * batchSize) - range.start * batchSize);
  return { indices, indicesHash: deps.subsetHash(indices), n, batchSize, batches, range, shardPositions };
}

/** Positions of batch `b` in the subset. */
export function batchPositions(plan: Pick<SubsetPlan, 'n' | 'batchSize'>, b: number): number[] {
  const out: number[] = [];
  for (let p = b * plan.batchSize; p < Math.min(plan.n, (b + 1) * plan.batchSize); p++) out.push(p);
  return out;
}

// ------------------------------------------------------------------------------------------------
// Identity

/**
 * The run identity (identity.ts): hashes of the config's files and of the modules serving the run —
 * the runner and framework, the modules behind `deps`, and the package of every plugin the config uses.
 */
export async function planIdentity(
  registry: PluginRegistry,
  config: DeepReadonly<RunConfig>,
  deps: RunnerDeps,
  baseDir: string,
): Promise<RunIdentity> {
  const serving: ServingModule[] = [
    { name: '@dbp-bench/runner', file: __filename, serves: 'runner' },
    { name: '@dbp-bench/framework', file: require.resolve('@dbp-bench/framework'), serves: 'runner' },
    ...(deps.modules ?? []),
    ...pluginModules(registry, config),
  ];
  return computeRunIdentity(configFiles(registry, config), serving, baseDir);
}

// ------------------------------------------------------------------------------------------------
// Attacks

/** An attack of the run with its declared protocol, as the runner uses it. */
export interface RunAttack {
  readonly name: string;
  readonly id: string;
  readonly attack: Attack;
  /** The attack's validated options (recorded in the entry). */
  readonly options: Record<string, unknown>;
  /** The declaration, validated. */
  readonly protocol: DeepReadonly<AttackProtocol>;
  readonly policy: NoisePolicy;
  readonly eot: number;
  readonly steps: number | null;
  /** Gradient mode of the target this attack runs on (the declared one, or the defense's for `target`). */
  readonly gradient: GradientMode;
  readonly norm: Norm;
  readonly eps: number;
  /** Step size in the attack's norm for the stall check (the declaration's); the attack's reported diagnostics take precedence. */
  readonly stepSize: number | null;
}

/** JSON Schema of an `AttackProtocol` (framework contracts), checked on every attack before a run. */
export const ATTACK_PROTOCOL_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['policy', 'eotSamples', 'steps', 'restarts', 'gradient', 'stepSize', 'requires'],
  additionalProperties: false,
  properties: {
    policy: { enum: [...NOISE_POLICIES] },
    eotSamples: { type: 'integer', minimum: 1 },
    steps: { type: ['integer', 'null'], minimum: 1 },
    restarts: { type: 'integer', minimum: 1 },
    runs: { type: 'integer', minimum: 1 },
    gradient: { enum: ['target', ...GRADIENT_MODES] },
    stepSize: { type: ['number', 'null'], exclusiveMinimum: 0 },
    requires: {
      type: 'object',
      required: ['inputGradients'],
      additionalProperties: false,
      properties: { inputGradients: { type: 'boolean' } },
    },
  },
};

/**
 * The protocol `attack` declares, validated against ATTACK_PROTOCOL_SCHEMA. Throws
 * IncompatiblePluginError when the attack has no `protocol()` (a plugin written for an older
 * contract), ConfigValidationError naming the attack and each bad field otherwise.
 */
export function declaredProtocol(name: string, id: string, attack: Attack): DeepReadonly<AttackProtocol> {
  if (typeof (attack as Partial<Attack>).protocol !== 'function') {
    throw new IncompatiblePluginError(
      `attack '${name}' (${id}) does not declare its protocol: the Attack contract requires protocol() returning ` +
        '{ policy, eotSamples, steps, restarts, gradient, stepSize, requires: { inputGradients } } (framework AttackProtocol; docs/RUNNER.md, "Attack protocol")',
    );
  }
  return validateSchema<AttackProtocol>(ATTACK_PROTOCOL_SCHEMA, attack.protocol(), `protocol() of attack '${name}' (${id})`);
}

/**
 * An attack of the run from its declaration: the gradient `target` becomes the defense's default
 * mode; a declared `exact` or `bpda` the defense does not support is refused, naming attack and defense.
 */
export function planAttack(name: string, id: string, attack: Attack, options: Record<string, unknown>, defense: Defense): RunAttack {
  const protocol = declaredProtocol(name, id, attack);
  const gradient: GradientMode = protocol.gradient === 'target' ? defaultGradient(defense) : protocol.gradient;
  const modes = targetGradientModes(defense.capabilities);
  if (!modes.includes(gradient)) {
    throw new IncompatiblePluginError(
      `attack '${name}' (${id}) declares gradient '${gradient}', which defense '${defense.id}' does not support (a target on it offers: ${modes.join(', ')})`,
    );
  }
  return {
    name,
    id,
    attack,
    options,
    protocol,
    policy: protocol.policy,
    eot: protocol.eotSamples,
    steps: protocol.steps,
    gradient,
    norm: attack.threat.norm,
    eps: attack.threat.eps,
    stepSize: protocol.stepSize,
  };
}

/** What the entry records of an attack's protocol. */
export function protocolOf(a: RunAttack): ProtocolAttack {
  return {
    name: a.name,
    id: a.id,
    options: a.options,
    eot: a.eot,
    steps: a.steps,
    noisePolicy: a.policy,
    gradient: a.gradient,
    norm: a.norm,
    eps: a.eps,
  };
}

/** The label of attack `k` in results: its `name`, else its id (`id#k+1` when the id occurs twice). */
export function attackName(config: DeepReadonly<RunConfig>, k: number): string {
  const ref = config.attacks[k];
  return ref.name ?? (config.attacks.filter((a) => a.id === ref.id).length > 1 ? `${ref.id}#${k + 1}` : ref.id);
}

/**
 * Create the config's attacks in `scope` and plan each: its budget must fit the dataset's images, its
 * declaration must be valid, and names must be distinct. `file` names the config in errors.
 */
export async function planAttacks(
  registry: PluginRegistry,
  scope: ReturnType<PluginRegistry['createScope']>,
  config: DeepReadonly<RunConfig>,
  dataset: Dataset,
  defense: Defense,
  file: string | undefined,
  logger: Logger,
): Promise<RunAttack[]> {
  const out: RunAttack[] = [];
  for (const [k, ref] of config.attacks.entries()) {
    const attack = await scope.create<Attack>('attack', ref.id, ref.options);
    const tooLarge = budgetExceedsInput(attack.threat, dataset.info.shape);
    if (tooLarge) throw new ConfigValidationError(file ?? 'run config', [`$.attacks[${k}].options.eps: ${tooLarge}`]);
    const options = registry.options('attack', ref.id, ref.options) as unknown as Record<string, unknown>;
    const a = planAttack(attackName(config, k), ref.id, attack, options, defense);
    const p = a.protocol;
    logger.debug(
      `attack '${a.name}' (${a.id}): policy ${a.policy}, EoT ${a.eot}, ${a.steps ?? 'no'} steps x ${p.restarts} run(s), gradient ${a.gradient}, ` +
        `step ${a.stepSize ?? 'adaptive'}, ${a.norm} eps ${a.eps}${p.requires.inputGradients ? '' : ', no input gradients'}`,
    );
    out.push(a);
  }
  const names = out.map((a) => a.name);
  const dup = names.find((nm, i) => names.indexOf(nm) !== i);
  if (dup) throw new ConfigValidationError(file ?? 'run config', [`$.attacks: two attacks are named '${dup}'; give each a distinct name`]);
  return out;
}

/** Threat model of a run from its attacks (all must share norm and eps); `override` must be a safe path segment. */
export function runThreat(attacks: readonly { name: string; norm: 'linf' | 'l2'; eps: number }[], override?: string): RunInfo['threat'] {
  if (override !== undefined && !isSafeId(override))
    throw new DataFormatError(
      'run config',
      `leaderboard.threatModel ${JSON.stringify(override)} is not a safe path segment (must match ${SAFE_ID_PATTERN})`,
    );
  if (!attacks.length) return { norm: 'none', eps: null, id: override ?? 'clean' };
  const a0 = attacks[0];
  for (const a of attacks.slice(1)) {
    if (a.norm !== a0.norm || Math.abs(a.eps - a0.eps) > 1e-9) {
      throw new DataFormatError(
        'run config',
        `attacks '${a0.name}' (${a0.norm}, eps ${a0.eps}) and '${a.name}' (${a.norm}, eps ${a.eps}) have different threat models; one run evaluates one threat model`,
      );
    }
  }
  return { norm: a0.norm, eps: a0.eps, id: override ?? threatId(a0.norm, a0.eps) };
}

/**
 * The seeds of a run, derived from the config seed: run, clean, sanity, and per attack its own
 * (`attack:<k>:<name>`, also the keyed noise) and its final evaluation's fresh streams (`final:<k>:<name>`).
 */
export function runSeeds(seed: number, attacks: readonly Pick<RunAttack, 'name'>[], inLoop = false): Record<string, number> {
  const seeds: Record<string, number> = { run: seed, clean: deriveSeed(seed, 'clean'), sanity: deriveSeed(seed, 'sanity') };
  attacks.forEach((a, k) => {
    seeds[`attack:${k}:${a.name}`] = attackSeed(seed, k);
    seeds[`final:${k}:${a.name}`] = finalSeed(seed, k);
    if (inLoop) seeds[`inloop:${k}:${a.name}`] = inLoopSeed(seed, k);
  });
  return seeds;
}

/**
 * The seed of the fresh streams of attack `k`'s independent in-loop draws (`evaluation.inLoopDraws`):
 * the draws of iterate g are the g-th generation of (this seed, stream, step, sample, draw).
 */
export function inLoopSeed(seed: number, k: number): number {
  return deriveSeed(seed, `inloop:${k}`);
}

/**
 * The seed of the fresh streams of attack `k`'s final evaluation: draw r of sample s is keyed by
 * (this seed, stream, step, s, r), so it can be recomputed from the returned example alone.
 */
export function finalSeed(seed: number, k: number): number {
  return deriveSeed(seed, `final:${k}`);
}

/** The seed of attack `k` (its target's keyed seed and the attack's own). */
export function attackSeed(seed: number, k: number): number {
  return deriveSeed(seed, `attack:${k}`);
}

/** run.json: everything about the run that does not depend on the shard. */
export function runInfo(p: {
  hash: string;
  config: DeepReadonly<RunConfig>;
  file?: string;
  dataset: Dataset;
  subset: SubsetPlan;
  classifier: { arch?: string };
  defense: Defense;
  attacks: readonly RunAttack[];
  threat: RunInfo['threat'];
  sanity: RunInfo['sanity'];
  seeds: Record<string, number>;
  identity: RunIdentity;
}): RunInfo {
  const { config, dataset, subset, defense } = p;
  return {
    version: 1,
    run: p.hash,
    config,
    ...(p.file ? { configFile: p.file } : {}),
    dataset: {
      id: dataset.info.id,
      split: dataset.info.split,
      size: dataset.info.size,
      n: subset.n,
      indicesHash: subset.indicesHash,
      indices: subset.indices,
    },
    batchSize: subset.batchSize,
    batches: subset.batches,
    classifier: {
      weights: config.classifier.weights,
      sha256: p.identity.files.find((f) => f.role === 'classifier.weights')?.sha256 ?? null,
      architecture: p.classifier.arch ?? null,
    },
    defense: {
      id: defense.id,
      options: recordedDefenseOptions(config.defense),
      capabilities: {
        stochastic: defense.capabilities.stochastic,
        streams: [...defense.capabilities.streams],
        // what attacks can use on it: `exact` when the defense provides it, `bpda` always (the target's)
        gradientModes: targetGradientModes(defense.capabilities),
        networkCalls: defense.capabilities.networkCalls,
      },
    },
    attacks: p.attacks.map(protocolOf),
    threat: p.threat,
    sanity: p.sanity,
    seeds: p.seeds,
    identity: p.identity,
  };
}
