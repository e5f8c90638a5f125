// Where a deployment's keys, channels and lease live in Redis: under REDIS_KEY_PREFIX and a name drawn from its
// database, so deployments on different databases that share a Redis (and a prefix, the default one included) stay
// apart. The name comes from what a copy of the database does not carry: the Postgres cluster's system identifier
// and the database's OID. A database restored from a dump, made from a template or created anew gets a name of its
// own (and rebuilds its aggregates from Postgres); the instances of one deployment, and a failover replica, share it.
// A copy that keeps both (a physical backup restored in place of its original) shares the name; the stream processor
// then tells its state apart by the events themselves (processor.ts).
import { createHash } from 'node:crypto';
import type { Sql } from './db.js';

export async function databaseIdentity(sql: Sql): Promise<string> {
  const [row] = await sql.query<{ identity: string }>(
    `SELECT (SELECT system_identifier FROM pg_control_system())::text || '/' ||
            (SELECT oid FROM pg_database WHERE datname = current_database())::text AS identity`,
    [],
  );
  if (!row) throw new Error('the database did not report its identity');
  return row.identity;
}

/** This database's name: 12 hex digits of its identity. Event cursors carry it too (events/cursor.ts). */
export async function databaseName(sql: Sql): Promise<string> {
  const digest = createHash('sha256')
    .update(await databaseIdentity(sql))
    .digest('hex');
  return digest.slice(0, 12);
}

/** The prefix every Redis key and channel of this deployment starts with. */
export async function redisKeyPrefixFor(configuredPrefix: string, sql: Sql): Promise<string> {
  return `${configuredPrefix}${await databaseName(sql)}:`;
}
