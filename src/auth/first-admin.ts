// The bootstrap admin key, made sure of once per start: by the one process of an embedded instance, or by the
// processing role in a cluster (before the serving processes start). Instances starting together are serialized by
// the store, so they make one key between them.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Bus } from '../bus/bus.js';
import type { Logger } from '../observability/logger.js';
import type { ApiKeyStore } from './keys.js';

/** Where a generated first admin key is kept, readable by its owner only, so local tools (`npm run demo`) find it. */
export function firstAdminKeyFile(dataDir: string): string {
  return path.resolve(dataDir, 'first-admin-key');
}

export async function ensureFirstAdmin(
  store: ApiKeyStore,
  bus: Bus,
  logger: Logger,
  options: { configuredKey: string | undefined; dataDir: string },
): Promise<void> {
  const { generatedKey, revokedIds, configuredKeyRevoked } = await store.bootstrapAdmin(options.configuredKey);
  if (revokedIds.length > 0) {
    logger.warn({ keyIds: revokedIds }, 'ADMIN_API_KEY changed: the previous bootstrap admin key is revoked');
    // Instances already running drop it from their caches and close its sockets now, not at their next check.
    for (const id of revokedIds) await bus.publish('apiKeys:revoked', { id }).catch(() => {});
  }
  if (configuredKeyRevoked) logger.error('ADMIN_API_KEY is a key that was revoked, so it does not work: set a new one');
  if (!generatedKey) return;
  const file = firstAdminKeyFile(options.dataDir);
  // Kept for local tools only: a read-only or foreign data folder (a container) must not stop the server starting.
  const kept = await writeOwnerOnly(file, `${generatedKey}\n`).then(
    () => `It is also in ${file} (readable by this user only), where \`npm run demo\` finds it.`,
    (error: Error) => `It could not be kept in ${file} (${error.message}): note it now.`,
  );
  // Printed once to the console and kept in the owner-only file: it is stored as a hash and never logged.
  process.stdout.write(
    `\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n${kept}\n\n`,
  );
}

/** Written under another name and renamed, so the file never exists with wider permissions or half its content. */
async function writeOwnerOnly(file: string, content: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  await rename(temporary, file);
}
