/** @dbp-bench/defenses-dbp */
import type { PluginModule, PluginRegistry } from '@dbp-bench/framework';

/** Register this package's plugins. */
export function register(registry: PluginRegistry): void {
  void registry;
}

export const plugin: PluginModule = { name: '@dbp-bench/defenses-dbp', register };
