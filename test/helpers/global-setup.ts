// Compiles the server, and builds a migrated template database once per test run with the same offline migration
// command users run (`npm run db:migrate`), so the migrations themselves are tested on every run. Its name is unique to the run,
// so concurrent runs on one machine never rebuild each other's template.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { adminQuery, databaseUrl } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The tests that run the server as a process of its own run what `npm start` runs, the compiled dist/main.js:
  // compiled here, once per run, so it is never older than src/.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: ['ignore', 'inherit', 'inherit'] });
  const template = `jackdaw_tpl_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  await adminQuery(`CREATE DATABASE "${template}"`);
  execFileSync('npx', ['tsx', 'src/migrate.ts', 'deploy'], {
    env: { ...process.env, DATABASE_URL: databaseUrl(template) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  project.provide('templateDatabase', template);
  return async () => {
    await adminQuery(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  };
}
