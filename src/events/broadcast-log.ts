// The order the stream processor broadcast events in, kept in Postgres so a subscriber can resume after a cursor
// (cursor.ts). One row per broadcast batch, apart from the event log: publishing never writes it.

import type { LockBounds, LockingSql, Sql } from '../db.js';
import type { BroadcastPlace } from './cursor.js';
import type { EventType, StoredEvent } from './model.js';

/**
 * The next position is the last one plus one, in the statement that inserts it. The partitions' processors record
 * under one advisory lock (BROADCAST_LOCK), which they hold until the batch is broadcast: positions are gap-free,
 * commit in order, and reach the bus in that order, whichever instance processes which partition. Should two insert
 * at once all the same (a lock lost with its connection), the second fails on the primary key instead of committing a
 * lower position after a higher one. A batch recorded again as the last (a pass retried after the bus failed, with
 * nothing recorded since) keeps its position.
 */
const RECORD = `WITH last AS (SELECT position, seqs FROM "EventBroadcast" ORDER BY position DESC LIMIT 1),
  batch AS (SELECT string_to_array($1, ',')::bigint[] AS seqs),
  inserted AS (
    INSERT INTO "EventBroadcast" (position, seqs, "seqRange")
    SELECT coalesce((SELECT position FROM last), 0) + 1, batch.seqs,
           int8range((SELECT min(s) FROM unnest(batch.seqs) AS s), (SELECT max(s) FROM unnest(batch.seqs) AS s), '[]')
    FROM batch
    WHERE NOT EXISTS (SELECT 1 FROM last, batch WHERE last.seqs = batch.seqs)
    RETURNING position
  )
  SELECT position::text AS position FROM inserted
  UNION ALL SELECT last.position::text FROM last, batch WHERE last.seqs = batch.seqs`;

async function recordOn(sql: Sql, seqs: readonly bigint[]): Promise<bigint> {
  const [row] = await sql.query<{ position: string }>(RECORD, [seqs.join(',')]);
  if (!row) throw new Error('the broadcast log recorded no position');
  return BigInt(row.position);
}

interface ReplayRow extends Record<string, unknown> {
  position: string;
  ord: string;
  id: string;
  seq: string;
  type: EventType;
  timestampMs: number;
  receivedAtMs: number;
  data: string;
}

export type ReplayedEvent = StoredEvent & { broadcast: BroadcastPlace };

/** The one sequencer of broadcasts (pg_advisory_lock); any constant no other lock of ours uses. */
const BROADCAST_LOCK = 7_142_990_314_001n;

export class BroadcastLog {
  /**
   * `broadcastTimeoutMs` bounds both the wait for the lock and a broadcast under it (PROCESSOR_BROADCAST_TIMEOUT_MS):
   * a processor stuck in its broadcast (Redis half-open, the process paused) stops the others for about that long, not
   * for as long as its Postgres connection lives.
   */
  private readonly bounds: LockBounds;
  constructor(
    private readonly sql: LockingSql,
    broadcastTimeoutMs = 3_000,
  ) {
    this.bounds = { waitMs: broadcastTimeoutMs, holdMs: broadcastTimeoutMs };
  }

  /** Records a batch (its seqs in the order it is broadcast) as the next one; answers its position. */
  async record(seqs: readonly bigint[]): Promise<bigint> {
    return recordOn(this.sql, seqs);
  }

  /**
   * Records a batch as the next one and broadcasts it (`broadcast`, given its position) before any other batch is
   * recorded, by any processor: live subscribers get batches in position order, as a resume replays them. The batch
   * stays recorded if the broadcast fails (its events are broadcast again, later, from the outbox). Fails, and the
   * caller retries later, when the lock is not had within the bound or the broadcast does not finish within it: the
   * lock is then given up and the batch counts as not broadcast (its events go again, at a later position, so a late
   * message of this one, arriving after a later position's, loses nothing; a resuming subscriber drops it as out of
   * order and gets its events at their new place).
   */
  async recordAndBroadcast(seqs: readonly bigint[], broadcast: (position: bigint) => Promise<void>): Promise<void> {
    await this.sql.exclusive(BROADCAST_LOCK, async (sql) => broadcast(await recordOn(sql, seqs)), this.bounds);
  }

  /** The places of the given events that were broadcast, by seq (the first place, if broadcast twice). */
  async placesOf(seqs: readonly bigint[]): Promise<Map<bigint, BroadcastPlace>> {
    const places = new Map<bigint, BroadcastPlace>();
    if (seqs.length === 0) return places;
    // The range index finds the few batches whose seqs span each one (one entry per batch: a GIN index of the seqs
    // cost the processor's insert ~5 times more); unnest finds its index in its batch.
    const rows = await this.sql.query<{ seq: string; position: string; ord: string }>(
      `SELECT u.seq::text AS seq, b.position::text AS position, u.ord::text AS ord
       FROM unnest(string_to_array($1, ',')::bigint[]) AS wanted(seq)
       JOIN "EventBroadcast" b ON b."seqRange" @> wanted.seq
       CROSS JOIN LATERAL unnest(b.seqs) WITH ORDINALITY AS u(seq, ord)
       WHERE u.seq = wanted.seq
       ORDER BY b.position DESC`,
      [seqs.join(',')],
    );
    for (const row of rows) places.set(BigInt(row.seq), { position: BigInt(row.position), index: Number(row.ord) - 1 });
    return places;
  }

  /** What a cursor's place can be checked against: the batch size at its position, and the log's first and last. */
  async extent(position: bigint): Promise<{ first: bigint | null; last: bigint | null; size: number | null }> {
    const [row] = await this.sql.query<{ first: string | null; last: string | null; size: number | null }>(
      `SELECT (SELECT min(position) FROM "EventBroadcast")::text AS first,
              (SELECT max(position) FROM "EventBroadcast")::text AS last,
              (SELECT cardinality(seqs) FROM "EventBroadcast" WHERE position = $1::bigint) AS size`,
      [position.toString()],
    );
    const big = (value: string | null | undefined) => (value == null ? null : BigInt(value));
    return { first: big(row?.first), last: big(row?.last), size: row?.size == null ? null : Number(row.size) };
  }

  /**
   * Whether the event `seq` waits in the outbox, so will be broadcast. The outbox is small and keyed by seq, where the
   * event log is partitioned by time (a probe by seq alone would visit every day).
   */
  async isQueued(seq: bigint): Promise<boolean> {
    const [row] = await this.sql.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM "EventOutbox" WHERE seq = $1::bigint) AS found`,
      [seq.toString()],
    );
    return row?.found === true;
  }

  /**
   * Up to `limit` events broadcast after `after`, in broadcast order, each once (a batch broadcast again after a
   * processor failed midway repeats some events: the first place counts). Of every type: the caller filters, so the
   * bound counts what is read.
   */
  async since(after: BroadcastPlace, limit: number): Promise<ReplayedEvent[]> {
    const rows = await this.sql.query<ReplayRow>(
      `SELECT b.position::text AS position, u.ord::text AS ord,
              e.id::text AS id, e.seq::text AS seq, e.type::text AS type,
              (extract(epoch FROM e."timestamp") * 1000)::float8 AS "timestampMs",
              (extract(epoch FROM e."receivedAt") * 1000)::float8 AS "receivedAtMs", e.data::text AS data
       FROM "EventBroadcast" b CROSS JOIN LATERAL unnest(b.seqs) WITH ORDINALITY AS u(seq, ord)
       -- A probe per seq (the log is partitioned by time, so by seq alone it is one index probe per partition): a
       -- plain join lets the planner hash the whole log.
       CROSS JOIN LATERAL (SELECT * FROM "Event" e WHERE e.seq = u.seq LIMIT 1) e
       WHERE b.position >= $1::bigint AND (b.position > $1::bigint OR u.ord > $2::bigint)
       ORDER BY b.position, u.ord
       LIMIT $3`,
      [after.position.toString(), after.index + 1, limit],
    );
    const seen = new Set<string>();
    const events: ReplayedEvent[] = [];
    for (const row of rows) {
      if (seen.has(row.seq)) continue;
      seen.add(row.seq);
      events.push({
        id: row.id,
        seq: BigInt(row.seq),
        type: row.type,
        timestamp: new Date(row.timestampMs),
        receivedAt: new Date(row.receivedAtMs),
        data: JSON.parse(row.data) as Record<string, unknown>,
        broadcast: { position: BigInt(row.position), index: Number(row.ord) - 1 },
      });
    }
    return events;
  }
}
