// The Prisma client on Postgres (DATABASE_URL) or, with none configured, on embedded PGlite in DATA_DIR.
// One client per app, owned by the app and never put in Context.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { Error as DriverError } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from './generated/prisma/client.js';

export type { PrismaClient };

/** What the driver said of a failed query (SQLSTATE, constraint), as Prisma passes it on in `meta`. */
export function driverErrorOf(error: unknown): DriverError | null {
  if (!(error instanceof Error) || !('meta' in error)) return null;
  const meta = error.meta as { driverAdapterError?: { cause?: DriverError } } | undefined;
  return meta?.driverAdapterError?.cause ?? null;
}

export interface Database {
  prisma: PrismaClient;
  kind: 'postgres' | 'embedded';
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../prisma/migrations', import.meta.url));

export async function openDatabase(options: { url?: string; dataDir: string; poolSize?: number }): Promise<Database> {
  if (options.url) {
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ connectionString: options.url, max: options.poolSize ?? 10 }),
    });
    return wrap(prisma, 'postgres', async () => {});
  }
  mkdirSync(options.dataDir, { recursive: true });
  const pglite = await PGlite.create(path.resolve(options.dataDir));
  await applyMigrations(pglite);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return wrap(prisma, 'embedded', () => pglite.close());
}

function wrap(prisma: PrismaClient, kind: Database['kind'], closeDriver: () => Promise<void>): Database {
  return {
    prisma,
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
