// The key `npm run demo` and the status-page screenshot use: DEMO_API_KEY, else ADMIN_API_KEY, else the first admin
// key the server kept in DATA_DIR when it generated one, so nobody copies a once-printed secret.
import { readFile } from 'node:fs/promises';
import { firstAdminKeyFile } from '../src/auth/first-admin.js';
import type { DemoConfig } from '../src/config.js';

export async function findDemoKey(config: DemoConfig): Promise<string> {
  const key = config.DEMO_API_KEY ?? config.ADMIN_API_KEY;
  if (key) return key;
  const file = firstAdminKeyFile(config.DATA_DIR);
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    throw new Error(
      `no admin key: set DEMO_API_KEY (or ADMIN_API_KEY), or start the server once without ADMIN_API_KEY so that it writes ${file}`,
    );
  }
}
