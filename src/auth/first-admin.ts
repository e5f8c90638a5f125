// The first admin key, made sure of once per instance at start: by the one process in embedded mode, by the
// processing role in a cluster (before the serving processes start, so they never race to create one each).
import type { ApiKeyStore } from './keys.js';

export async function ensureFirstAdmin(store: ApiKeyStore, configuredKey: string | undefined): Promise<void> {
  const generatedKey = await store.bootstrapAdmin(configuredKey);
  if (!generatedKey) return;
  // Printed once, to the console only: it is stored as a hash and never logged.
  process.stdout.write(
    `\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n`,
  );
}
