// Postgres persistence of the event log and its outbox. Everything here is one statement per call, so a batch
// costs one round trip and is atomic: an event is in the outbox exactly when it is in the log.

import { SpanKind } from '@opentelemetry/api';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_SYSTEM_NAME,
} from '@opentelemetry/semantic-conventions';
import type { AppliedBatch } from '../aggregation/types.js';
import type { Database, PrismaClient, Sql } from '../db.js';
import { ATTR, inSpan, SPAN, traceparentOf } from '../observability/tracing.js';
import type { EventType, NewEvent, StoredEvent } from './model.js';

interface EventRow {
  id: string;
  seq: bigint | number | string;
  type: EventType;
  timestamp: Date | string;
  receivedAt: Date | string;
  data: unknown;
}

function toEvent(row: EventRow): StoredEvent {
  return {
    id: row.id,
    seq: BigInt(row.seq),
    type: row.type,
    timestamp: new Date(row.timestamp),
    receivedAt: new Date(row.receivedAt),
    data: (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as Record<string, unknown>,
  };
}

/** An event as readOutbox selects it. */
interface OutboxRow extends Record<string, unknown> {
  id: string;
  seq: string;
  type: EventType;
  timestampMs: number;
  receivedAtMs: number;
  data: string;
  traceparent: string | null;
}

/** A queued event, with the trace context of the commit that queued it (tracing on only). */
export interface OutboxEvent extends StoredEvent {
  traceparent?: string;
}

const EVENT_COLUMNS = `e.id::text AS id, e.seq, e.type::text AS type, e."timestamp", e."receivedAt", e.data`;

/**
 * One partition of the outbox: the events whose publishing transaction hashes to `index` modulo `count`
 * (src/events/partitions.ts). Postgres fills the transaction in (a column default) and computes the partition in each
 * query, so the publish statement names neither.
 */
export interface OutboxPartition {
  index: number;
  count: number;
}

/**
 * The condition that a row (of "Event" or "EventOutbox", by `alias`) is in the partition given by the SQL
 * expressions `count` and `index` (parameters, or literals in a prepared statement). hashint8 is the hash Postgres's
 * own hash partitioning uses: stable, and spread evenly whatever pattern transaction ids follow.
 */
function inPartition(alias: string, count: string, index: string): string {
  return `mod(abs(hashint8(${alias}.txid)::bigint), ${count}::int) = ${index}::int`;
}

/**
 * The same rows as `inPartition`, said as "in none of the other partitions" (`others`: an int[] expression of their
 * indices), for the outbox read, which walks the queue's key in seq order up to a LIMIT. The planner has no
 * statistics for the hash: it guesses that one row in 200 equals a given value, so that walking the key for LIMIT rows
 * would read the whole queue, and sorted a full scan of it on every read instead (a parallel scan of a 520,000-row
 * backlog, 88 ms per read during bench:pipeline, against 2.5 ms by the key); it guesses that nearly every row differs
 * from a value. The rows are the same: the remainder is always one of 0 to count - 1.
 */
function outsideOtherPartitions(alias: string, count: string, others: string): string {
  return `mod(abs(hashint8(${alias}.txid)::bigint), ${count}::int) <> ALL(${others}::int[])`;
}

/** Most partitions whose outbox read walks the queue's key (see readOutbox). */
const WALK_PARTITIONS = 16;

/** The indices of the partitions other than `partition`, as a Postgres array literal. */
function otherPartitions({ index, count }: OutboxPartition): string {
  const others: number[] = [];
  for (let i = 0; i < count; i++) if (i !== index) others.push(i);
  return `{${others.join(',')}}`;
}

/** A count written into a statement's text: checked to be one. */
function checkedCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${n} is not a count`);
  return n;
}

/**
 * The outbox read's condition that a row (`o`) is in `partition`, with the partition written into the text (checked
 * integers) so that the statement can be prepared. Walks the queue's key up to WALK_PARTITIONS (readOutbox says why).
 */
function partitionOfQueue(partition: OutboxPartition): string {
  const count = String(checkedCount(partition.count));
  const index = String(checkedCount(partition.index));
  return partition.count <= WALK_PARTITIONS
    ? outsideOtherPartitions('o', count, `'${otherPartitions(partition)}'`)
    : inPartition('o', count, index);
}

/** A partition's batch as the aggregate store recorded it (a digest of its AppliedBatch), kept beside the outbox. */
export interface AppliedRecord {
  partition: OutboxPartition;
  digest: string;
  /**
   * Recorded even if the delete removes no row (a rebuild's record, or the first record after the upgrade that added
   * them). Otherwise only a delete that removed the batch records it: a writer that lost its lease and comes back late
   * finds its batch deleted by the new holder, and must not put its older record over the new holder's.
   */
  always?: boolean;
}

/** The whole outbox, as one partition. */
export const WHOLE_OUTBOX: OutboxPartition = { index: 0, count: 1 };

export interface EventPageQuery {
  first: number;
  after?: { timestamp: Date; seq: bigint } | null;
  types?: EventType[] | null;
  since?: Date | null;
  until?: Date | null;
}

/**
 * The partition key of an id in "EventId" (migration 20261127235500_event_id_partitions): the UTC day of the time a
 * UUIDv7 carries (its first 48 bits, Unix milliseconds), -1 for any other id. A function of the id alone, so that
 * (id, day), the key a partitioned table can have, is unique exactly when the id is.
 */
export const ID_DAY = (column: string) =>
  `CASE WHEN substr(${column}::text, 15, 1) = '7'
     THEN (('x' || substr(${column}::text, 1, 8) || substr(${column}::text, 10, 4))::bit(48)::bigint / 86400000)::integer
     ELSE -1 END`;

/**
 * The publish statement: the batch arrives as one JSON array parameter (see `batchJson`); its ids are claimed in
 * "EventId", and only the events whose id was new are inserted in the log and queued in the outbox, all in one
 * statement. The log is partitioned by time, so its own keys cannot make an id unique: "EventId" does, whatever
 * timestamp a repeat carries. An id already stored, or repeated within the batch (its first event is kept), is
 * skipped; the answer is how many events were new. An event in no partition fails the statement (SQLSTATE 23514).
 */
const INSERT_BATCH = `WITH batch AS MATERIALIZED (
    SELECT DISTINCT ON (id) id, type, to_timestamp(ms / 1000) AS ts, data, ord
    FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id uuid, type "EventType", ms float8, data jsonb))
      WITH ORDINALITY AS t(id, type, ms, data, ord)
    ORDER BY id, ord
  ), new_ids AS (
    INSERT INTO "EventId" (id, day, "timestamp") SELECT id, ${ID_DAY('id')}, ts FROM batch
    ON CONFLICT (id, day) DO NOTHING
    RETURNING id
  ), inserted AS (
    INSERT INTO "Event" (id, type, "timestamp", "receivedAt", data)
    SELECT b.id, b.type, b.ts, $2::timestamptz, b.data FROM batch b JOIN new_ids n ON n.id = b.id ORDER BY b.ord
    RETURNING seq, "timestamp"
  ), queued AS (
    INSERT INTO "EventOutbox" (seq, "timestamp", traceparent) SELECT seq, "timestamp", $3 FROM inserted
  )
  SELECT count(*)::int AS new FROM inserted`;

/**
 * The batch as the one parameter of INSERT_BATCH: a JSON array of {id, type, ms, data}, each `data` spliced in as
 * validation serialised it. One text parameter costs the driver a copy, where an array per column costs it an
 * escaped element per event, and Postgres parses it no slower. The event time goes as epoch milliseconds:
 * toISOString() was most of the cost of building the batch (a float8 holds any JavaScript date's milliseconds
 * exactly, and to_timestamp rounds to the microsecond). Ids and types are written as they are: validation made
 * every id a UUID, and a type is one of the enum's names, so neither holds a character JSON would escape.
 */
function batchJson(events: readonly NewEvent[]): string {
  const rows: string[] = [];
  for (const e of events) {
    rows.push(`{"id":"${e.id}","type":"${e.type}","ms":${e.timestamp.getTime()},"data":${e.dataJson}}`);
  }
  return `[${rows.join(',')}]`;
}

export class EventStore {
  private readonly prisma: PrismaClient;
  private readonly sql: Sql;

  constructor(db: Pick<Database, 'prisma' | 'sql'>) {
    this.prisma = db.prisma;
    this.sql = db.sql;
  }

  /**
   * Inserts the events and queues them in the outbox in one statement, on the driver (see `Sql`). Ids already
   * stored are skipped; returns how many events were new. The commit is a span, and its trace context is queued with
   * the events so that their processing links back to it.
   */
  async insertBatch(events: readonly NewEvent[], receivedAt: Date): Promise<number> {
    if (events.length === 0) return 0;
    const attributes = {
      [ATTR_DB_SYSTEM_NAME]: 'postgresql',
      [ATTR_DB_OPERATION_NAME]: 'INSERT',
      [ATTR_DB_COLLECTION_NAME]: 'Event',
      [ATTR.events]: events.length,
    };
    return inSpan(SPAN.commit, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      const [row] = await this.sql.query<{ new: number }>(INSERT_BATCH, [
        batchJson(events),
        receivedAt.toISOString(),
        traceparentOf(span) ?? null,
      ]);
      const accepted = row?.new ?? 0;
      span.setAttribute(ATTR.accepted, accepted);
      return accepted;
    });
  }

  async findByIds(ids: readonly string[]): Promise<StoredEvent[]> {
    if (ids.length === 0) return [];
    // Through "EventId": its timestamp names the one partition to look in (a LATERAL probe, pruned as it runs),
    // where the log's key (id, timestamp) alone would be probed in every partition.
    const rows = await this.prisma.$queryRawUnsafe<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM "EventId" i
       CROSS JOIN LATERAL (SELECT * FROM "Event" e WHERE e.id = i.id AND e."timestamp" = i."timestamp" LIMIT 1) e
       WHERE i.id = ANY($1::uuid[])`,
      [...ids],
    );
    return rows.map(toEvent);
  }

  /** Newest first by (timestamp, seq): keyset pagination, so pages stay stable while events arrive. */
  async page(query: EventPageQuery): Promise<StoredEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.after) {
      const timestamp = param(query.after.timestamp.toISOString());
      const seq = param(query.after.seq.toString());
      // The bound on the timestamp alone repeats the row comparison, for partition pruning (which reads no rows).
      where.push(`(e."timestamp", e.seq) < (${timestamp}::timestamptz, ${seq}::bigint)`);
      where.push(`e."timestamp" <= ${timestamp}::timestamptz`);
    }
    // One parameter per type, each cast to the enum, so the (type, timestamp, seq) index applies; a cast of the
    // column (type::text) would rule it out. (An enum[] parameter is not portable to the embedded driver.)
    if (query.types?.length) where.push(`e.type IN (${query.types.map((t) => `${param(t)}::"EventType"`).join(', ')})`);
    if (query.since) where.push(`e."timestamp" >= ${param(query.since.toISOString())}::timestamptz`);
    if (query.until) where.push(`e."timestamp" <= ${param(query.until.toISOString())}::timestamptz`);
    const rows = await this.prisma.$queryRawUnsafe<EventRow[]>(
      `SELECT ${EVENT_COLUMNS} FROM "Event" e
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY e."timestamp" DESC, e.seq DESC
       LIMIT ${param(query.first)}`,
      ...params,
    );
    return rows.map(toEvent);
  }

  /**
   * The oldest queued events with a seq above `after`, in seq order. On the driver, like the publish statement: the stream processor reads
   * every event once, in thousands, and Prisma's mapping of the rows cost more than the query. The columns come as
   * text and epoch milliseconds, which both drivers return as they are (no date or JSON parser of theirs runs).
   */
  async readOutbox(limit: number, partition: OutboxPartition = WHOLE_OUTBOX, after = 0n): Promise<OutboxEvent[]> {
    // The queued seqs are picked first (MATERIALIZED), then joined: joined directly, the planner can choose a merge
    // join that walks the whole event index from its start, which costs more the longer the log grows.
    // Each event is then looked up by (seq, timestamp), the outbox's reference, in a LATERAL subquery: a probe per
    // event into the one partition holding it (pruned as it runs). A plain join lets the planner hash the whole log.
    // The partition's condition is said so that the planner walks the key (see `outsideOtherPartitions`): a full scan
    // cost more the further the processor fell behind, and took CPU from the publishes. The walk reads about
    // limit × count entries to find its rows, so past WALK_PARTITIONS partitions a scan of the queue is no dearer
    // (with 256, the walk of a 700,000-row queue took 160 ms and the scan 40).
    //
    // The limit and the partition are written into the text and the statement is prepared: Postgres plans it once per
    // connection (a generic plan from the sixth run: `after` does not change it). Planning the probe over every day
    // partition of the log took 0.6-1 ms, as much as reading a small batch, on every pass. `after` is the one
    // parameter (the stream processor reads ahead of its applies); seqs start at 1, so the default reads from the head.
    const rows = await this.sql.query<OutboxRow>(
      `WITH queued AS MATERIALIZED (SELECT seq, "timestamp", traceparent FROM "EventOutbox" o
         WHERE ${partitionOfQueue(partition)} AND o.seq > $1::bigint ORDER BY seq LIMIT ${checkedCount(limit)})
       SELECT e.id::text AS id, e.seq::text AS seq, e.type::text AS type,
              (extract(epoch FROM e."timestamp") * 1000)::float8 AS "timestampMs",
              (extract(epoch FROM e."receivedAt") * 1000)::float8 AS "receivedAtMs", e.data::text AS data,
              q.traceparent
       FROM queued q
       CROSS JOIN LATERAL (SELECT * FROM "Event" e WHERE e.seq = q.seq AND e."timestamp" = q."timestamp" LIMIT 1) e
       ORDER BY q.seq`,
      [after.toString()],
      `outbox_read_${limit}_${partition.count}_${partition.index}`,
    );
    return rows.map((row) => ({
      id: row.id,
      seq: BigInt(row.seq),
      type: row.type,
      timestamp: new Date(row.timestampMs),
      receivedAt: new Date(row.receivedAtMs),
      data: JSON.parse(row.data) as Record<string, unknown>,
      ...(row.traceparent ? { traceparent: row.traceparent } : {}),
    }));
  }

  /**
   * The seqs of up to `limit` queued events of the partition at or below `through`, in order: the stream processor
   * looks here for events that committed after it had read past their seqs (a publish that took its seqs before
   * another's but committed after it). Prepared as readOutbox is; its plan is the same walk of the key whatever the
   * limit, so the limit is a parameter (pg_prepared_statements shows the generic plan taken from the sixth run).
   */
  async outboxSeqsThrough(
    through: bigint,
    limit: number,
    partition: OutboxPartition = WHOLE_OUTBOX,
  ): Promise<bigint[]> {
    const rows = await this.sql.query<{ seq: string }>(
      `SELECT o.seq::text AS seq FROM "EventOutbox" o
       WHERE ${partitionOfQueue(partition)} AND o.seq <= $1::bigint ORDER BY o.seq LIMIT $2::int`,
      [through.toString(), checkedCount(limit)],
      `outbox_seqs_${partition.count}_${partition.index}`,
    );
    return rows.map((row) => BigInt(row.seq));
  }

  /**
   * Removes processed events from the outbox (on the driver, as the stream processor's other statement). With
   * `applied`, the same statement records the batch as the partition's last applied one (`ProcessorApplied`), so the
   * record and the delete commit together; with no seqs, it only records.
   */
  async deleteFromOutbox(seqs: readonly string[], applied?: AppliedRecord): Promise<void> {
    // Seqs are decimal strings: one comma-separated parameter, where a bigint[] would escape every element.
    const remove = `DELETE FROM "EventOutbox" WHERE seq = ANY(string_to_array($1, ',')::bigint[])`;
    if (!applied) {
      if (seqs.length > 0) await this.sql.query(remove, [seqs.join(',')]);
      return;
    }
    await this.sql.query(
      `WITH removed AS (${remove} RETURNING 1)
       INSERT INTO "ProcessorApplied" (partitions, partition, batch, "at")
       SELECT $2::int, $3::int, $4, now() WHERE $5::boolean OR EXISTS (SELECT 1 FROM removed)
       ON CONFLICT (partitions, partition) DO UPDATE SET batch = EXCLUDED.batch, "at" = EXCLUDED."at",
         written = nextval(pg_get_serial_sequence('"ProcessorApplied"', 'written'))`,
      [seqs.join(','), applied.partition.count, applied.partition.index, applied.digest, applied.always === true],
    );
  }

  /**
   * What Postgres knows of a partition's applied batches, to check the aggregate store's record `seqs` against: the
   * digest of the last batch recorded as applied (null before any), whether any of `seqs` is still queued, and whether
   * a batch was recorded since under another partition count (the state of this count is then an old one, left from
   * before PROCESSOR_PARTITIONS changed and changed back).
   */
  async appliedState(
    partition: OutboxPartition,
    seqs: readonly string[],
  ): Promise<{ recorded: string | null; queued: boolean; superseded: boolean }> {
    const [row] = await this.sql.query<{ recorded: string | null; queued: boolean; superseded: boolean }>(
      `WITH own AS (SELECT batch, written FROM "ProcessorApplied" WHERE partitions = $2::int AND partition = $3::int)
       SELECT (SELECT batch FROM own) AS recorded,
              EXISTS (SELECT 1 FROM "EventOutbox" WHERE seq = ANY(string_to_array($1, ',')::bigint[])) AS queued,
              EXISTS (SELECT 1 FROM "ProcessorApplied" p, own WHERE p.partitions <> $2::int AND p.written > own.written)
                AS superseded`,
      [seqs.join(','), partition.count, partition.index],
    );
    return { recorded: row?.recorded ?? null, queued: row?.queued === true, superseded: row?.superseded === true };
  }

  /**
   * Whether every event of `batch` is in this log, seq and id alike. The aggregate store's record of its last batch
   * is checked with it: seqs alone repeat from one database to the next, and a Redis may hold another database's.
   */
  async holdsBatch({ seqs, ids }: AppliedBatch): Promise<boolean> {
    if (seqs.length !== ids.length) return false;
    if (seqs.length === 0) return true;
    const [row] = await this.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n
       FROM unnest(string_to_array($1, ',')::bigint[], string_to_array($2, ',')::uuid[]) AS b(seq, id)
       JOIN "EventId" i ON i.id = b.id
       CROSS JOIN LATERAL (SELECT 1 FROM "Event" e
         WHERE e.id = i.id AND e."timestamp" = i."timestamp" AND e.seq = b.seq LIMIT 1) e`,
      [seqs.join(','), ids.join(',')],
    );
    return Number(row?.n ?? 0) === seqs.length;
  }

  /** Whether any event of the partition since `since` has left the outbox, i.e. belongs in the aggregates. */
  async anyProcessedSince(since: Date, partition: OutboxPartition = WHOLE_OUTBOX): Promise<boolean> {
    const [row] = await this.sql.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM "Event" e WHERE e."timestamp" > $1::timestamptz AND ${inPartition('e', '$2', '$3')}
         AND NOT EXISTS (SELECT 1 FROM "EventOutbox" o WHERE o.seq = e.seq)) AS found`,
      [since.toISOString(), partition.count, partition.index],
    );
    return row?.found === true;
  }

  async outboxSize(): Promise<number> {
    const [row] = await this.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM "EventOutbox"`);
    return Number(row?.n ?? 0);
  }

  /**
   * The events since `since` that have left the outbox (so were part of the lost aggregate state), in pages, all
   * read in one snapshot. Events still queued are not included: the processor applies them afterwards as usual.
   */
  async processedSince<T>(
    since: Date,
    pageSize: number,
    use: (pages: AsyncIterable<StoredEvent[]>) => Promise<T>,
    partition: OutboxPartition = WHOLE_OUTBOX,
  ): Promise<T> {
    return this.prisma.$transaction(
      async (tx) => {
        async function* pages(): AsyncGenerator<StoredEvent[]> {
          let afterSeq = '0';
          for (;;) {
            const rows = await tx.$queryRawUnsafe<EventRow[]>(
              `SELECT ${EVENT_COLUMNS} FROM "Event" e
               WHERE e.seq > $1::bigint AND e."timestamp" > $2::timestamptz AND ${inPartition('e', '$4', '$5')}
                 AND NOT EXISTS (SELECT 1 FROM "EventOutbox" o WHERE o.seq = e.seq)
               ORDER BY e.seq LIMIT $3`,
              afterSeq,
              since.toISOString(),
              pageSize,
              partition.count,
              partition.index,
            );
            const events = rows.map(toEvent);
            const last = events[events.length - 1];
            if (!last) return;
            yield events;
            afterSeq = last.seq.toString();
          }
        }
        return use(pages());
      },
      // Rebuilding a busy day can take minutes; the snapshot must outlive it.
      { isolationLevel: 'RepeatableRead', timeout: 10 * 60_000, maxWait: 30_000 },
    );
  }
}
