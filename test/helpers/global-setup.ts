// Builds the migrated template database once per test run with the same offline migration command users run
// (`npm run db:migrate`), so the migrations themselves are tested on every run.
import { execFileSync } from 'node:child_process';
import { TEMPLATE_DATABASE, adminQuery, databaseUrl } from './services.js';

export default async function setup(): Promise<void> {
  await adminQuery(`DROP DATABASE IF EXISTS "${TEMPLATE_DATABASE}" WITH (FORCE)`);
  await adminQuery(`CREATE DATABASE "${TEMPLATE_DATABASE}"`);
  execFileSync('npx', ['tsx', 'scripts/migrate.ts', 'deploy'], {
    env: { ...process.env, DATABASE_URL: databaseUrl(TEMPLATE_DATABASE) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
