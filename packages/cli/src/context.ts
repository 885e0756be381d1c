/**
 * What every command shares: the global options, the registry with the built-in plugins (and any
 * --plugin modules), the logger and the backend.
 */
import {
  ConsoleLogger,
  PluginRegistry,
  initBackend,
  type BackendInfo,
  type BackendPreference,
  type LogLevel,
  type Logger,
  type PluginModule,
} from '@dbp-bench/framework';
import * as datasets from '@dbp-bench/datasets';
import * as models from '@dbp-bench/models';
import * as defenses from '@dbp-bench/defenses-dbp';
import * as attacks from '@dbp-bench/attacks';
import * as trainersAddt from '@dbp-bench/trainers-addt';
import * as trainersAt from '@dbp-bench/trainers-at';

export interface GlobalOptions {
  backend?: BackendPreference;
  plugin?: string[];
  logLevel?: LogLevel;
}

/** A registry with every built-in plugin package registered. */
export function builtinRegistry(): PluginRegistry {
  const r = new PluginRegistry();
  const mods: [{ plugin: PluginModule }, string][] = [
    [datasets, '@dbp-bench/datasets'],
    [models, '@dbp-bench/models'],
    [defenses, '@dbp-bench/defenses-dbp'],
    [attacks, '@dbp-bench/attacks'],
    [trainersAddt, '@dbp-bench/trainers-addt'],
    [trainersAt, '@dbp-bench/trainers-at'],
  ];
  for (const [m, name] of mods) r.use(m.plugin, m.plugin.name ?? name, require.resolve(name));
  return r;
}

export class CliContext {
  readonly logger: Logger;
  private registry_?: PluginRegistry;
  constructor(readonly options: GlobalOptions) {
    this.logger = new ConsoleLogger({ level: options.logLevel });
  }
  /** The registry: built-ins plus every --plugin module (paths relative to the working directory). */
  registry(): PluginRegistry {
    if (!this.registry_) {
      const r = builtinRegistry();
      for (const spec of this.options.plugin ?? []) r.load(spec, process.cwd());
      this.registry_ = r;
    }
    return this.registry_;
  }
  backend(): Promise<BackendInfo> {
    return initBackend(this.options.backend, this.logger);
  }
  /** Write to stdout (command results; logs and progress go to stderr). */
  out(text: string): void {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
  /** Write to stderr whatever the log level (warnings a run must not hide). */
  err(text: string): void {
    process.stderr.write(text.endsWith('\n') ? text : text + '\n');
  }
}
