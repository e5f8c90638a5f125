// `npm run test:mutation`: StrykerJS (stryker.config.mjs) over the pure modules and the stream processor.
// Extra arguments go to `stryker run`, e.g. `npm run test:mutation -- --mutate src/aggregation/windows.ts`.
//
// The processor's test makes Postgres databases (a migrated template per test runner, a copy per test file) and
// drops them when it ends. A mutant that hangs is a timeout, and Stryker kills its test runner: that runner's
// databases stay. Postgres is shared with other test runs, whose databases have the same kind of names, so the
// run gets a login role of its own: every database it makes is owned by that role, and afterwards exactly those
// are dropped, then the role.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import pg from 'pg';

const require = createRequire(import.meta.url);
const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const role = `jackdaw_mutation_${randomBytes(4).toString('hex')}`;
const password = randomBytes(16).toString('hex');

async function admin(sql, params = []) {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function dropRoleAndItsDatabases() {
  const databases = await admin(
    'SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)',
    [role],
  );
  for (const { datname } of databases) await admin(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  await admin(`DROP ROLE IF EXISTS "${role}"`);
  if (databases.length > 0)
    console.log(`test:mutation: dropped ${databases.length} database(s) left by killed runners`);
}

try {
  await admin(`CREATE ROLE "${role}" LOGIN CREATEDB PASSWORD '${password}'`);
} catch (error) {
  console.error(`test:mutation: cannot create a Postgres role through ${adminUrl} (is Postgres running?)`);
  throw error;
}

const testUrl = new URL(adminUrl);
testUrl.username = role;
testUrl.password = password;
const stryker = path.join(path.dirname(require.resolve('@stryker-mutator/core/package.json')), 'bin/stryker.js');
const child = spawn(process.execPath, [stryker, 'run', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, TEST_POSTGRES_URL: testUrl.toString() },
});
// Ctrl-C reaches Stryker too (same process group); this process waits for it to end, then cleans up.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
const code = await new Promise((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0))));
try {
  await dropRoleAndItsDatabases();
} catch (error) {
  console.error(`test:mutation: could not drop role ${role} and its databases:`, error);
}
process.exit(code);
