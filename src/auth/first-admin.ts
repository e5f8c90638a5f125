// The first admin key, made sure of once per instance at start: by the one process in embedded mode, by the
// processing role in a cluster (before the serving processes start). Instances starting together are serialized by
// the store, so they make one key between them.
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../observability/logger.js';
import type { ApiKeyStore } from './keys.js';

export async function ensureFirstAdmin(
  store: ApiKeyStore,
  bus: Bus,
  logger: Logger,
  configuredKey: string | undefined,
): Promise<void> {
  const { generatedKey, revokedIds, configuredKeyRevoked } = await store.bootstrapAdmin(configuredKey);
  if (revokedIds.length > 0) {
    logger.warn({ keyIds: revokedIds }, 'ADMIN_API_KEY changed: the previous bootstrap admin key is revoked');
    // Instances already running drop it from their caches and close its sockets now, not at their next check.
    for (const id of revokedIds) await bus.publish('apiKeys:revoked', { id }).catch(() => {});
  }
  if (configuredKeyRevoked) logger.error('ADMIN_API_KEY is a key that was revoked, so it does not work: set a new one');
  if (!generatedKey) return;
  // Printed once, to the console only: it is stored as a hash and never logged.
  process.stdout.write(
    `\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n`,
  );
}
