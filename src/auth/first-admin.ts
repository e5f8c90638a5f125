// The first admin key, made sure of once per instance at start: by the one process in embedded mode, by the
// processing role in a cluster (before the serving processes start, so they never race to create one each).
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ApiKeyStore } from './keys.js';

/** Where a generated first admin key is kept, readable by its owner only, so local tools (`npm run demo`) find it. */
export function firstAdminKeyFile(dataDir: string): string {
  return path.resolve(dataDir, 'first-admin-key');
}

export async function ensureFirstAdmin(
  store: ApiKeyStore,
  options: { configuredKey: string | undefined; dataDir: string },
): Promise<void> {
  const generatedKey = await store.bootstrapAdmin(options.configuredKey);
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
