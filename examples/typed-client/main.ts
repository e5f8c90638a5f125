// Runs the typed client example against a running server: `npm run example:typed-client`.
// JACKDAW_URL (default http://localhost:4000/graphql) and JACKDAW_API_KEY (a PUBLISHER or ADMIN key).
import { runExample } from './client.js';

async function main() {
  const httpUrl = process.env.JACKDAW_URL ?? 'http://localhost:4000/graphql';
  const apiKey = process.env.JACKDAW_API_KEY;
  if (!apiKey) throw new Error('set JACKDAW_API_KEY to a PUBLISHER or ADMIN key');
  await runExample({ httpUrl, wsUrl: httpUrl.replace(/^http/, 'ws'), apiKey });
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
