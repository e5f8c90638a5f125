// Offline replacement for `prisma migrate dev --create-only` / `prisma migrate deploy`: Prisma's own WASM schema
// engine (@prisma/schema-engine-wasm) driven through @prisma/adapter-pg, so no native engine is downloaded.
// Records applied migrations in `_prisma_migrations` exactly as the CLI does. It lives in src/ so that the build
// compiles it: a production image runs `node dist/migrate.js deploy` with no TypeScript tooling and no dev packages.
//   npm run db:migrate                     apply pending migrations to DATABASE_URL (tsx src/migrate.ts deploy)
//   npm run db:migrate:create -- <name>    write prisma/migrations/<timestamp>_<name>/migration.sql
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as wasmBindings from '@prisma/schema-engine-wasm/schema_engine_bg';

// biome-ignore lint: the generated bindings are untyped glue
type Untyped = any;

const require = createRequire(import.meta.url);
const wasmPath = path.join(
  path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')),
  'schema_engine_bg.wasm',
);
const { instance } = await (globalThis as Untyped).WebAssembly.instantiate(readFileSync(wasmPath), {
  './schema_engine_bg.js': wasmBindings as Untyped,
});
(wasmBindings as Untyped).__wbg_set_wasm(instance.exports);
(instance.exports as Untyped).__wbindgen_start();

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');
// Beside src/ and dist/ alike, whatever the working directory (a one-off container or job may start elsewhere).
const schemaPath = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));
const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url));
const schema = readFileSync(schemaPath, 'utf8');
const filters = { externalTables: [], externalEnums: [] };

function migrationsList() {
  const dirs = existsSync(migrationsDir)
    ? readdirSync(migrationsDir, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort()
    : [];
  const lock = path.join(migrationsDir, 'migration_lock.toml');
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lock) ? readFileSync(lock, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: dirs.map((d) => ({
      path: d,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok' as const, value: readFileSync(path.join(migrationsDir, d, 'migration.sql'), 'utf8') },
      },
    })),
  };
}

// Discrete fields, not a connectionString: adapter-pg's connectToShadowDb() spreads {...config, database: shadow},
// and pg lets a connectionString override `database`, so the "shadow" database would be the real one.
const parsed = new URL(url);
const pgConfig = {
  host: parsed.hostname,
  port: Number(parsed.port || 5432),
  user: decodeURIComponent(parsed.username),
  password: decodeURIComponent(parsed.password),
  database: parsed.pathname.slice(1),
};

// Two fixes to adapter-pg 7.10.1 for the schema engine:
// - it cannot map Postgres' internal "char" type (OID 18, used in pg_catalog), which breaks the engine's
//   introspection; report it as text (OID 25);
// - its executeScript splits a migration on every ";" and runs the pieces one by one, outside any transaction: a
//   ";" in a comment or in a DO block breaks the script, and a failure leaves the migration half applied. Send the
//   script whole instead, as Prisma's native engine does: one simple query, which Postgres runs as one transaction.
function fixAdapter<T>(adapter: T): T {
  const a = adapter as Untyped;
  const performIO = a.performIO.bind(a);
  a.performIO = async (query: unknown) => {
    const result = await performIO(query);
    for (const field of result?.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
    return result;
  };
  a.executeScript = async (script: string) => {
    try {
      await a.client.query(script);
    } catch (error) {
      a.onError(error);
    }
  };
  return adapter;
}

class OfflinePgFactory extends PrismaPg {
  override async connect() {
    return fixAdapter(await super.connect());
  }
  // adapter-pg's own shadow database disposal drops the database before closing its pool ("being accessed by
  // other users"); close first, then drop WITH (FORCE).
  override async connectToShadowDb() {
    const admin = await this.connect();
    const database = `prisma_shadow_${globalThis.crypto.randomUUID().replace(/-/g, '')}`;
    await admin.executeScript(`CREATE DATABASE "${database}"`);
    const shadow = fixAdapter(await new PrismaPg({ ...pgConfig, database }).connect());
    const close = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await close();
      await admin.executeScript(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.dispose();
    };
    return shadow;
  }
}

const factory = bindMigrationAwareSqlAdapterFactory(new OfflinePgFactory(pgConfig));
const engine = await wasmBindings.SchemaEngine.new(
  { datamodels: [[schemaPath, schema]] },
  (log: string) => {
    if (process.env.DEBUG_SCHEMA_ENGINE) console.error(log);
  },
  factory,
);

const command = process.argv[2] ?? 'deploy';
if (command === 'create') {
  const name = process.argv[3] ?? 'migration';
  const diff = await engine.diff({
    from: existsSync(migrationsDir) ? { tag: 'migrations', ...migrationsList() } : { tag: 'empty' },
    to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
    script: true,
    exitCode: null,
    filters,
  } as Untyped);
  const sql = (diff as Untyped).stdout ?? '';
  if (!sql.trim() || /empty migration/i.test(sql)) {
    console.log('no changes');
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(migrationsDir, `${stamp}_${name}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'migration.sql'), sql);
    const lock = path.join(migrationsDir, 'migration_lock.toml');
    if (!existsSync(lock)) writeFileSync(lock, 'provider = "postgresql"\n');
    console.log('wrote', dir);
  }
} else if (command === 'deploy') {
  const out = await engine.applyMigrations({ migrationsList: migrationsList(), filters } as Untyped);
  console.log('applied:', (out as Untyped).appliedMigrationNames);
} else {
  console.error(`unknown command ${command}: use deploy or create <name>`);
  process.exitCode = 2;
}
engine.free();
process.exit(process.exitCode ?? 0);
