// The broadcast lock (one Postgres advisory lock that every partition's processor, on every instance, records and
// broadcasts under) is bounded both ways: a holder whose broadcast hangs (Redis half-open) gives it up, and a waiter
// behind a holder that cannot give it up (a paused process) fails rather than waiting, holding a pool connection, for
// as long as that holder's connection lives. Two Database opens on one database stand for two instances.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, LockHeldTooLongError, openDatabase, sqlErrorOf } from '../../src/db.js';
import { BroadcastLog } from '../../src/events/broadcast-log.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

const BOUND_MS = 300;
/** The same constant broadcast-log.ts locks (a paused holder is played by a bare connection holding it). */
const BROADCAST_LOCK = '7142990314001';

let database: TestDatabase;
let first: Database;
let second: Database;

beforeAll(async () => {
  database = await createTestDatabase();
  first = await openDatabase({ url: database.url, dataDir: '' });
  second = await openDatabase({ url: database.url, dataDir: '' });
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await database?.drop();
});

const positions = async (db: Database) =>
  (
    await db.sql.query<{ position: string; seqs: string }>(
      'SELECT position::text AS position, array_to_string(seqs, \',\') AS seqs FROM "EventBroadcast" ORDER BY position',
      [],
    )
  ).map((row) => ({ position: BigInt(row.position), seqs: row.seqs }));

describe('the broadcast lock', () => {
  it('is given up by a holder whose broadcast hangs, so another instance records and broadcasts next, in order', async () => {
    const stuck = new BroadcastLog(first.sql, BOUND_MS);
    const other = new BroadcastLog(second.sql, BOUND_MS);
    let stuckAt: bigint | undefined;
    let entered: () => void = () => {};
    const inside = new Promise<void>((resolve) => {
      entered = resolve;
    });
    // A publish that never answers, as on a half-open connection to Redis.
    const hanging = stuck.recordAndBroadcast([1n, 2n], (position) => {
      stuckAt = position;
      entered();
      return new Promise<void>(() => {});
    });
    const hangingFailed = expect(hanging).rejects.toBeInstanceOf(LockHeldTooLongError);
    await inside;
    const broadcast: bigint[] = [];
    const started = Date.now();
    // Without the bound this waits in pg_advisory_lock for as long as the holder's connection lives.
    await retryWhileLocked(() => other.recordAndBroadcast([3n], async (position) => void broadcast.push(position)));
    const waited = Date.now() - started;
    await hangingFailed;
    expect(stuckAt).toBe(1n);
    expect(broadcast).toEqual([2n]);
    // About one bound (the holder's), and far from forever; generous for a loaded machine.
    expect(waited).toBeLessThan(BOUND_MS * 20);
    // The stuck batch stays recorded, gap-free, before the next; its events go again from the outbox, later.
    expect(await positions(first)).toEqual([
      { position: 1n, seqs: '1,2' },
      { position: 2n, seqs: '3' },
    ]);
    // The stuck instance takes the lock again at once (its dropped connection freed it) and records its batch anew,
    // after the other's: positions still one order, nothing lost.
    const again: bigint[] = [];
    await stuck.recordAndBroadcast([1n, 2n], async (position) => void again.push(position));
    expect(again).toEqual([3n]);
  });

  it('fails a waiter within the bound while a holder that cannot give it up holds it, and lets it in after', async () => {
    const paused = new pg.Client({ connectionString: database.url });
    await paused.connect();
    try {
      await paused.query(`SELECT pg_advisory_lock(${BROADCAST_LOCK}::bigint)`);
      const log = new BroadcastLog(second.sql, BOUND_MS);
      const broadcast: bigint[] = [];
      const started = Date.now();
      const failure = await log.recordAndBroadcast([10n], async (p) => void broadcast.push(p)).catch((e) => e);
      expect(Date.now() - started).toBeLessThan(BOUND_MS * 20);
      // lock_not_available: the lock_timeout ended the wait; nothing was recorded or broadcast.
      expect(sqlErrorOf(failure)?.code).toBe('55P03');
      expect(broadcast).toEqual([]);
      const before = await positions(second);
      expect(before.some((row) => row.seqs === '10')).toBe(false);
      // The waiter's connection went back to the pool, its settings reset: a pooled statement is not bounded by them.
      const [settings] = await second.sql.query<{ lock: string; idle: string }>(
        "SELECT current_setting('lock_timeout') AS lock, current_setting('idle_session_timeout') AS idle",
        [],
      );
      expect(settings).toEqual({ lock: '0', idle: '0' });
      await paused.query(`SELECT pg_advisory_unlock(${BROADCAST_LOCK}::bigint)`);
      await log.recordAndBroadcast([10n], async (p) => void broadcast.push(p));
      expect(broadcast).toEqual([(before.at(-1)?.position ?? 0n) + 1n]);
    } finally {
      await paused.end();
    }
  });
});

/** The other instance's first try may itself time out waiting behind the stuck holder on a slow machine: it retries. */
async function retryWhileLocked(attempt: () => Promise<void>): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      if (sqlErrorOf(error)?.code !== '55P03' || tries >= 10) throw error;
    }
  }
}
