// The Prisma client on Postgres (DATABASE_URL) or, with none configured, on embedded PGlite in DATA_DIR, and the
// driver under it for the few hot statements Prisma would slow down. One of each per app, owned by the app and never
// put in Context.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Error as DriverError } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { lockDataDir } from './data-dir-lock.js';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

/** What the driver said of a failed query (SQLSTATE, constraint), as Prisma passes it on in `meta`. */
export function driverErrorOf(error: unknown): DriverError | null {
  if (!(error instanceof Error) || !('meta' in error)) return null;
  const meta = error.meta as { driverAdapterError?: { cause?: DriverError } } | undefined;
  return meta?.driverAdapterError?.cause ?? null;
}

/** The SQLSTATE and message of a statement the database refused, whether it ran through Prisma or on the driver. */
export function sqlErrorOf(error: unknown): { code: string; message: string } | null {
  const cause = driverErrorOf(error);
  if (cause?.originalCode) return { code: cause.originalCode, message: cause.originalMessage ?? cause.originalCode };
  // pg's and PGlite's DatabaseError alike; a connection failure has a `code` too (ECONNREFUSED), but no SQLSTATE.
  if (!(error instanceof Error) || !('code' in error) || !('severity' in error)) return null;
  return typeof error.code === 'string' && /^[0-9A-Z]{5}$/.test(error.code)
    ? { code: error.code, message: error.message }
    : null;
}

/**
 * A statement straight on the driver, on the same connections as Prisma. For the event hot path only (the publish
 * statement, the stream processor's outbox read and delete): Prisma serialises every raw parameter to JSON and back
 * before the driver sees it, and maps every row it returns, which for thousands of events cost the server more CPU
 * than the driver and the statement together. Everything else goes through Prisma.
 */
export interface Sql {
  /**
   * With `prepared`, a name unique to `text`: Postgres plans the statement once per connection and runs its plan
   * again (the embedded database plans it each time). For a statement whose parameters do not change its best plan:
   * Postgres plans the first five runs with their values, then keeps one generic plan if it costs no more (the
   * outbox's reads do: pg_prepared_statements counts generic plans from the sixth run); it plans anew after a change
   * to a table it reads (a partition added or dropped).
   */
  query<Row extends Record<string, unknown>>(
    text: string,
    params: readonly unknown[],
    prepared?: string,
  ): Promise<Row[]>;
}

/** The driver, with a lock across processes. */
export interface LockingSql extends Sql {
  /**
   * Runs `use` holding the Postgres advisory lock `lock` (a session lock, on a connection of its own, which `use`'s
   * statements run on): processes everywhere that ask for the same lock run one at a time, each seeing what the
   * previous one committed. The embedded database is one process's, so there a lock in process does.
   */
  exclusive<T>(lock: bigint, use: (sql: Sql) => Promise<T>, bounds: LockBounds): Promise<T>;
}

/**
 * How long a lock may be waited for and held. A holder that outlives its lease (its network half-open, its VM paused)
 * must not stop every other holder for as long as its connection lives: a waiter gives up after `waitMs` (its caller
 * retries later), and a holder whose `use` has not settled after `holdMs` loses the lock (its connection is ended, by
 * us, or by Postgres if we are paused too) and fails.
 */
export interface LockBounds {
  waitMs: number;
  holdMs: number;
}

/** `use` took longer than the lock may be held: the lock was given up, whatever `use` still does. */
export class LockHeldTooLongError extends Error {
  constructor(holdMs: number) {
    super(`gave the lock up after holding it ${holdMs} ms`);
    this.name = 'LockHeldTooLongError';
  }
}

/** `work`, or LockHeldTooLongError once `holdMs` have passed (then `onExpiry` runs; `work` goes on unheard). */
async function heldAtMost<T>(work: Promise<T>, holdMs: number, onExpiry: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpiry();
      reject(new LockHeldTooLongError(holdMs));
    }, holdMs);
  });
  work.catch(() => {}); // settled after expiry: nobody waits on it any more
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** One at a time within this process, in the order asked. */
function inProcessMutex(): <T>(run: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(run: () => Promise<T>) => {
    const result = tail.then(run);
    tail = result.catch(() => {});
    return result;
  };
}

export interface Database {
  prisma: PrismaClient;
  sql: LockingSql;
  kind: 'postgres' | 'embedded';
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../prisma/migrations', import.meta.url));

export async function openDatabase(options: { url?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  if (options.url) {
    const pool = new pg.Pool({ connectionString: options.url, max: options.poolSize ?? 10 });
    // A connection lost while idle (Postgres restarted) leaves the pool; the next statement reports the outage.
    pool.on('error', () => {});
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    // In process first, so that one process's waiters hold one connection between them, not one each.
    const serially = inProcessMutex();
    const sql: LockingSql = {
      query: async <Row extends Record<string, unknown>>(text: string, params: readonly unknown[], prepared?: string) =>
        (await pool.query<Row>({ text, values: [...params], name: prepared })).rows,
      exclusive: (lock, use, { waitMs, holdMs }) =>
        serially(async () => {
          const client = await pool.connect();
          const key = BigInt(lock).toString();
          // A connection lost while checked out (Postgres restarted) fails the statement in hand; without a listener
          // its 'error' event would end the process. The pool listens again once the client is back.
          const lost = () => {};
          client.on('error', lost);
          // A connection that failed to lock or unlock, or held the lock too long, is dropped rather than pooled:
          // closing it frees its lock.
          let healthy = false;
          let dropped = false;
          try {
            // One round trip. lock_timeout bounds the wait (a waiter fails rather than holding a pool connection for
            // as long as a stuck holder lives); idle_session_timeout makes Postgres end this session should it sit
            // idle, holding the lock, past the hold bound, which covers a holder too paused to end it itself.
            await client.query(
              `SET lock_timeout = ${Math.max(1, Math.floor(waitMs))}; ` +
                `SET idle_session_timeout = ${Math.max(1, Math.floor(holdMs * 2))}; ` +
                `SELECT pg_advisory_lock(${key}::bigint)`,
            );
            const sql: Sql = {
              query: async <Row extends Record<string, unknown>>(
                text: string,
                params: readonly unknown[],
                prepared?: string,
              ) => (await client.query<Row>({ text, values: [...params], name: prepared })).rows,
            };
            const result = await heldAtMost(use(sql), holdMs, () => {
              dropped = true;
              client.release(true);
            });
            await client.query(
              `SELECT pg_advisory_unlock(${key}::bigint); RESET lock_timeout; RESET idle_session_timeout`,
            );
            healthy = true;
            return result;
          } finally {
            client.off('error', lost);
            if (!dropped) client.release(!healthy);
          }
        }),
    };
    return wrap(prisma, sql, 'postgres', () => pool.end());
  }
  mkdirSync(options.dataDir, { recursive: true });
  // PGlite is one process's database: a second process on the folder is refused before it opens a file there.
  const lock = await lockDataDir(options.dataDir);
  let pglite: PGlite;
  try {
    pglite = await PGlite.create(path.resolve(options.dataDir));
    await applyMigrations(pglite);
  } catch (error) {
    lock.release();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  const serially = inProcessMutex();
  const sql: LockingSql = {
    query: async <Row extends Record<string, unknown>>(text: string, params: readonly unknown[]) =>
      (await pglite.query<Row>(text, [...params])).rows,
    // A holder that overruns frees the lock all the same (its `use` goes on unheard).
    exclusive: (_lock, use, { holdMs }) => serially(() => heldAtMost(use(sql), holdMs, () => {})),
  };
  return wrap(prisma, sql, 'embedded', async () => {
    try {
      await pglite.close();
    } finally {
      lock.release();
    }
  });
}

function wrap(
  prisma: PrismaClient,
  sql: LockingSql,
  kind: Database['kind'],
  closeDriver: () => Promise<void>,
): Database {
  return {
    prisma,
    sql,
    kind,
    ping: async () => {
      await prisma.$queryRawUnsafe('SELECT 1');
    },
    close: async () => {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}

/**
 * The embedded database applies the same migration files `npm run db:migrate` applies to Postgres, in order,
 * recording each so that a restart applies only new ones.
 */
async function applyMigrations(pglite: PGlite): Promise<void> {
  await pglite.exec(
    'CREATE TABLE IF NOT EXISTS "_embedded_migrations" ' +
      '(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied = new Set(
    (await pglite.query<{ name: string }>('SELECT name FROM "_embedded_migrations"')).rows.map((r) => r.name),
  );
  const pending = readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !applied.has(d.name))
    .map((d) => d.name)
    .sort();
  for (const name of pending) {
    const sql = readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8');
    await pglite.transaction(async (tx) => {
      await tx.exec(sql);
      await tx.query('INSERT INTO "_embedded_migrations"(name) VALUES ($1)', [name]);
    });
  }
}
