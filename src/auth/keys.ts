// API keys: random secrets shown once, stored only as a SHA-256 hash.
import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Role } from '../generated/prisma/enums.js';

export type { Role };

export const ROLE_RANK: Record<Role, number> = { VIEWER: 1, PUBLISHER: 2, ADMIN: 3 };

export interface Principal {
  keyId: string;
  name: string;
  role: Role;
}

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

export class ApiKeyStore {
  constructor(private readonly prisma: PrismaClient) {}

  async authenticate(key: string): Promise<Principal | null> {
    const row = await this.prisma.apiKey.findUnique({ where: { hash: hashKey(key) } });
    if (!row || row.revokedAt) return null;
    return { keyId: row.id, name: row.name, role: row.role };
  }

  async create(name: string, role: Role): Promise<{ id: string; name: string; role: Role; key: string }> {
    const key = generateKey();
    const row = await this.prisma.apiKey.create({ data: { name, role, hash: hashKey(key) } });
    return { id: row.id, name: row.name, role: row.role, key };
  }

  /** Which of these key ids are revoked now (open connections of theirs must close). */
  async revokedAmong(ids: string[]): Promise<string[]> {
    const rows = await this.prisma.apiKey.findMany({
      where: { id: { in: ids }, revokedAt: { not: null } },
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
   * Makes sure an admin can get in: registers ADMIN_API_KEY when given, otherwise creates an admin key the first
   * time the database has none. Returns a key only when it was generated here (the caller prints it once).
   */
  async bootstrapAdmin(configuredKey: string | undefined): Promise<string | null> {
    if (configuredKey) {
      // ON CONFLICT DO NOTHING: several instances may start at once with the same key.
      await this.prisma.apiKey.createMany({
        data: [{ name: 'ADMIN_API_KEY', role: 'ADMIN', hash: hashKey(configuredKey) }],
        skipDuplicates: true,
      });
      return null;
    }
    const admins = await this.prisma.apiKey.count({ where: { role: 'ADMIN', revokedAt: null } });
    if (admins > 0) return null;
    const { key } = await this.create('first admin', 'ADMIN');
    return key;
  }
}
