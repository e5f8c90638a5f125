// API keys: random secrets shown once, stored only as a SHA-256 hash.
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKey as ApiKeyRow, PrismaClient } from '../generated/prisma/client.js';
import type { EventType, Role } from '../generated/prisma/enums.js';

export type { Role };

export const ROLE_RANK: Record<Role, number> = { VIEWER: 1, PUBLISHER: 2, ADMIN: 3 };

export interface Principal {
  /** Whom limits are counted under: the API key's id, or `token:<subject>` for a browser token (tokens.ts). */
  keyId: string;
  /** Who it is, for people: the API key's name, or the token's subject. */
  name: string;
  /** The token's subject (`sub`); absent for an API key. */
  subject?: string;
  role: Role;
  /** When the key stops being valid; caches must not answer for it past this. */
  expiresAt?: Date | null;
  /** The only event types it may publish; null or absent: any. */
  eventTypes?: readonly EventType[] | null;
}

/** A key as admins list it; never its hash. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** Null: any type. */
  eventTypes: EventType[] | null;
}

export interface NewKey {
  name: string;
  role: Role;
  expiresAt?: Date | null;
  /** Null or empty: any type. */
  eventTypes?: readonly EventType[] | null;
}

/** What making sure of the first admin key did: a key generated here (printed once), bootstrap keys it revoked. */
export interface Bootstrap {
  generatedKey: string | null;
  revokedIds: string[];
  /** ADMIN_API_KEY is a key that was revoked: it is not brought back. */
  configuredKeyRevoked: boolean;
}

/** Serializes bootstrapping across every instance on the database (an arbitrary constant: "jackdaw" in ASCII). */
const BOOTSTRAP_LOCK = 0x6a61636b646177n;

/** A lastUsedAt this recent is not written again: a look-up is not worth a row write each time. */
const LAST_USED_PRECISION = '60 seconds';

/** 32 random bytes: far beyond guessing, and hashing without a salt is safe for secrets of this entropy. */
export function generateKey(): string {
  return `jds_${randomBytes(32).toString('base64url')}`;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Reads `Bearer <key>` (case-insensitive scheme); anything else is no key. */
export function bearerKey(header: string | null | undefined): string | null {
  const match = /^bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

function toInfo(row: ApiKeyRow): ApiKeyInfo {
  const { id, name, role, createdAt, lastUsedAt, expiresAt, revokedAt, eventTypes } = row;
  return {
    id,
    name,
    role,
    createdAt,
    lastUsedAt,
    expiresAt,
    revokedAt,
    eventTypes: eventTypes.length ? eventTypes : null,
  };
}

export class ApiKeyStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** The key's owner when it is active (not revoked, not expired), by the database's clock; notes the use. */
  async authenticate(key: string): Promise<Principal | null> {
    const [row] = await this.prisma.$queryRaw<
      { id: string; name: string; role: Role; expiresAt: Date | null; eventTypes: EventType[] }[]
    >`
      WITH valid AS (
        SELECT "id", "name", "role"::text AS "role", "expiresAt", "eventTypes"::text[] AS "eventTypes", "lastUsedAt"
        FROM "ApiKey"
        WHERE "hash" = ${hashKey(key)} AND "revokedAt" IS NULL AND ("expiresAt" IS NULL OR "expiresAt" > now())
      ), touched AS (
        UPDATE "ApiKey" SET "lastUsedAt" = now()
        WHERE "id" IN (
          SELECT "id" FROM valid
          WHERE "lastUsedAt" IS NULL OR "lastUsedAt" < now() - ${LAST_USED_PRECISION}::interval
        )
      )
      SELECT "id", "name", "role", "expiresAt", "eventTypes" FROM valid`;
    if (!row) return null;
    return {
      keyId: row.id,
      name: row.name,
      role: row.role,
      expiresAt: row.expiresAt,
      eventTypes: row.eventTypes.length ? row.eventTypes : null,
    };
  }

  async create({ name, role, expiresAt = null, eventTypes = null }: NewKey): Promise<ApiKeyInfo & { key: string }> {
    const key = generateKey();
    const row = await this.prisma.apiKey.create({
      data: { name, role, hash: hashKey(key), expiresAt, eventTypes: [...(eventTypes ?? [])] },
    });
    return { ...toInfo(row), key };
  }

  /** Every key, oldest first: there are few, made by hand. */
  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.prisma.apiKey.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
    return rows.map(toInfo);
  }

  /** Which of these key ids are revoked or expired now (open connections of theirs must close). */
  async revokedAmong(ids: string[]): Promise<string[]> {
    const rows = await this.prisma.apiKey.findMany({
      where: { id: { in: ids }, OR: [{ revokedAt: { not: null } }, { expiresAt: { lte: new Date() } }] },
      select: { id: true },
    });
    return rows.map((row) => row.id);
  }

  /** Returns false when no active key has that id. */
  async revoke(id: string): Promise<boolean> {
    const { count } = await this.prisma.apiKey.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: new Date() },
    });
    return count > 0;
  }

  /**
   * Makes sure an admin can get in. With ADMIN_API_KEY: registers it as the bootstrap key and revokes any other
   * (a changed ADMIN_API_KEY leaves the old one valid no longer). Without: creates an admin key the first time the
   * database has no active one. Under an advisory lock, so instances starting together make one key between them.
   */
  async bootstrapAdmin(configuredKey: string | undefined): Promise<Bootstrap> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`;
      if (configuredKey) {
        const hash = hashKey(configuredKey);
        const existing = await tx.apiKey.findUnique({ where: { hash } });
        // A revoked key stays revoked, and revokes nothing: an instance still configured with an old key (one
        // restarting in the middle of a rolling change) must not take away the newer key the others use.
        if (existing?.revokedAt != null) return { generatedKey: null, revokedIds: [], configuredKeyRevoked: true };
        const current =
          existing ??
          (await tx.apiKey.create({ data: { name: 'ADMIN_API_KEY', role: 'ADMIN', hash, bootstrap: true } }));
        // Only bootstrap keys older than the configured one: a configuration never revokes a key newer than its own.
        const revoked = await tx.apiKey.updateManyAndReturn({
          where: { bootstrap: true, revokedAt: null, hash: { not: hash }, createdAt: { lt: current.createdAt } },
          data: { revokedAt: new Date() },
          select: { id: true },
        });
        return { generatedKey: null, revokedIds: revoked.map((row) => row.id), configuredKeyRevoked: false };
      }
      const now = new Date();
      const admins = await tx.apiKey.count({
        where: { role: 'ADMIN', revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      });
      if (admins > 0) return { generatedKey: null, revokedIds: [], configuredKeyRevoked: false };
      const generatedKey = generateKey();
      await tx.apiKey.create({
        data: { name: 'first admin', role: 'ADMIN', hash: hashKey(generatedKey), bootstrap: true },
      });
      return { generatedKey, revokedIds: [], configuredKeyRevoked: false };
    });
  }
}
