// Real services for tests: every test file gets its own Postgres database (cloned from a migrated template)
// and its own Redis key prefix, so files run in parallel and in any order.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import { inject } from 'vitest';
import type { ClusterNode } from '../../src/config.js';
import { deleteKeys } from './redis-keys.js';

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function databaseUrl(database: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `jackdaw_t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await adminQuery(`CREATE DATABASE "${name}" TEMPLATE "${inject('templateDatabase')}"`);
  return {
    url: databaseUrl(name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

/**
 * A new database restored from a `pg_dump` of `source` (custom format, then `pg_restore`), as an operator restores a
 * backup: the same rows, sequences and everything else the dump carries.
 */
export async function restoreDumpOf(source: TestDatabase): Promise<TestDatabase> {
  const name = `jackdaw_t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'jackdaw-dump-'));
  const file = path.join(dir, 'source.dump');
  try {
    await promisify(execFile)('pg_dump', ['--format=custom', `--file=${file}`, source.url]);
    await adminQuery(`CREATE DATABASE "${name}" TEMPLATE template0`);
    await promisify(execFile)('pg_restore', ['--no-owner', `--dbname=${databaseUrl(name)}`, file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    url: databaseUrl(name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

/** A Redis key prefix no other test file uses. */
export function redisKeyPrefix(): string {
  return `test:${randomUUID().slice(0, 8)}:`;
}

/** Deletes every key under a test file's prefix, so the shared Redis is left as found (`url`, or a cluster's nodes). */
export async function deleteRedisKeys(prefix: string, url: string | ClusterNode[] = REDIS_URL): Promise<void> {
  const redis = typeof url === 'string' ? new Redis(url) : new Cluster(url);
  try {
    await deleteKeys(redis, `${prefix}*`);
  } finally {
    await redis.quit();
  }
}
