import { describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/services.js';
import pg from 'pg';

describe('test services', () => {
  it('should give each file a migrated database', async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query('SELECT count(*)::int AS n FROM "Event"');
    await client.end();
    await db.drop();
    expect(rows[0].n).toBe(0);
  });
});
