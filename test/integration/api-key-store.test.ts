// The API key store on real Postgres: the bootstrap admin key (one however many instances start at once, replaced
// when ADMIN_API_KEY changes), expiry by the database's clock, and when a key was last used.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore, hashKey } from '../../src/auth/keys.js';
import { type Database, openDatabase } from '../../src/db.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
/** Instances starting together each have their own connection pool. */
const instances: Database[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  for (let i = 0; i < 4; i++) instances.push(await openDatabase({ url: database.url, dataDir: '' }));
});

afterEach(async () => {
  await instances[0]?.prisma.apiKey.deleteMany();
});

afterAll(async () => {
  for (const db of instances) await db.close();
  await database?.drop();
});

const stores = () => instances.map((db) => new ApiKeyStore(db.prisma));
const [prisma] = [() => (instances[0] as Database).prisma];

describe('bootstrap admin key', () => {
  it('should generate one key however many instances start together without ADMIN_API_KEY', async () => {
    // Several rounds: each is a race between four instances that all find no admin key.
    for (let round = 0; round < 5; round++) {
      await prisma().apiKey.deleteMany();
      const results = await Promise.all(stores().map((store) => store.bootstrapAdmin(undefined)));
      const generated = results.filter((result) => result.generatedKey !== null);
      expect(generated).toHaveLength(1);
      expect(await prisma().apiKey.count()).toBe(1);
    }
  });

  it('should register ADMIN_API_KEY once however many instances start together', async () => {
    const key = 'configured-admin-key-0123456789';
    await Promise.all(stores().map((store) => store.bootstrapAdmin(key)));
    const rows = await prisma().apiKey.findMany();
    expect(rows.map(({ hash, bootstrap, revokedAt, role }) => ({ hash, bootstrap, revokedAt, role }))).toEqual([
      { hash: hashKey(key), bootstrap: true, revokedAt: null, role: 'ADMIN' },
    ]);
  });

  it('should revoke the previous bootstrap key when ADMIN_API_KEY changes, and only that key', async () => {
    const [store] = stores() as [ApiKeyStore];
    const first = await store.bootstrapAdmin(undefined); // the generated first admin key
    const other = await store.create({ name: 'made by an admin', role: 'ADMIN' });
    const a = await store.bootstrapAdmin('admin-key-a-0123456789');
    expect(a.revokedIds).toHaveLength(1);
    expect(await store.authenticate(first.generatedKey ?? '')).toBeNull();
    expect(await store.authenticate('admin-key-a-0123456789')).toMatchObject({ role: 'ADMIN' });

    // Restarting with the same key changes nothing; a new one replaces it.
    expect(await store.bootstrapAdmin('admin-key-a-0123456789')).toEqual({
      generatedKey: null,
      revokedIds: [],
      configuredKeyRevoked: false,
    });
    const b = await store.bootstrapAdmin('admin-key-b-0123456789');
    expect(b.revokedIds).toHaveLength(1);
    expect(await store.authenticate('admin-key-a-0123456789')).toBeNull();
    expect(await store.authenticate('admin-key-b-0123456789')).toMatchObject({ role: 'ADMIN' });
    // Keys admins made are not bootstrap keys.
    expect(await store.authenticate(other.key)).toMatchObject({ keyId: other.id });
    const active = await prisma().apiKey.count({ where: { bootstrap: true, revokedAt: null } });
    expect(active).toBe(1);

    // Going back to a revoked key does not bring it back, and takes nothing from the newer key (an old replica
    // restarting in the middle of a rolling change must not leave the deployment without an admin key).
    const back = await store.bootstrapAdmin('admin-key-a-0123456789');
    expect(back).toEqual({ generatedKey: null, revokedIds: [], configuredKeyRevoked: true });
    expect(await store.authenticate('admin-key-a-0123456789')).toBeNull();
    expect(await store.authenticate('admin-key-b-0123456789')).toMatchObject({ role: 'ADMIN' });
  });
});

describe('expiry and use', () => {
  it('should refuse a key once it expires, and report it among the revoked for open connections', async () => {
    const [store] = stores() as [ApiKeyStore];
    // Long enough to be still valid at the first checks on a loaded machine (1.5 s was not always).
    const expiresAt = new Date(Date.now() + 5_000);
    const created = await store.create({ name: 'brief', role: 'VIEWER', expiresAt });
    const lasting = await store.create({ name: 'lasting', role: 'VIEWER' });
    expect(await store.authenticate(created.key)).toMatchObject({ keyId: created.id });
    expect(await store.revokedAmong([created.id, lasting.id])).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt.getTime() - Date.now()) + 100));
    expect(await store.authenticate(created.key)).toBeNull();
    expect(await store.revokedAmong([created.id, lasting.id])).toEqual([created.id]);
  });

  it('should note when a key was last used, without a write per use', async () => {
    const [store] = stores() as [ApiKeyStore];
    const created = await store.create({ name: 'used', role: 'VIEWER' });
    expect((await store.list()).find((key) => key.id === created.id)?.lastUsedAt).toBeNull();
    await store.authenticate(created.key);
    const [first] = (await store.list()).filter((key) => key.id === created.id);
    expect(first?.lastUsedAt).toBeInstanceOf(Date);
    await store.authenticate(created.key);
    const [second] = (await store.list()).filter((key) => key.id === created.id);
    expect(second?.lastUsedAt).toEqual(first?.lastUsedAt);
  });
});
