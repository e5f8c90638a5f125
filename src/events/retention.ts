// Retention of the event log. "Event" is partitioned by UTC day on "timestamp" (migration
// 20261127204401_event_partitions), "EventId" by the UTC day a UUIDv7 id carries (migration
// 20261127235500_event_id_partitions; other ids in "EventId_other"): this job makes the partitions of both ahead of
// time, drops those past EVENT_RETENTION_DAYS and EVENT_ID_RETENTION_DAYS (a whole day at once, where a DELETE would
// visit every row), and prunes the rows of "EventId_other" past EVENT_ID_RETENTION_DAYS whose events are gone.
// Which days to make and drop is pure (`planPartitions`, `planIdPartitions`); the rest is a few statements, under an
// advisory lock so that instances running it together do each change once.
import type { PrismaClient } from '../db.js';
import { sqlErrorOf } from '../db.js';
import type { Logger } from '../observability/logger.js';

export const DAY_MS = 86_400_000;

/** How often the job runs besides at start: partitions are made days ahead, so a pass an hour is plenty. */
const MAINTENANCE_INTERVAL_MS = 60 * 60_000;
/** How long a drop waits for its lock on "Event": a drop queued behind a long read would stall every insert. */
const DROP_LOCK_TIMEOUT_MS = 2_000;
/** Serialises passes across instances (pg_advisory_xact_lock); any constant no other lock of ours uses. */
const PARTITION_LOCK = 0x6a61636b6470n;

export interface RetentionSettings {
  /** Days of events kept (EVENT_RETENTION_DAYS): a day is dropped once all of it is older than this. */
  retentionDays: number;
  /** Days after today with a partition made (EVENT_PARTITIONS_AHEAD_DAYS). */
  aheadDays: number;
  /** Days an event id is kept for idempotency, from its event's timestamp (EVENT_ID_RETENTION_DAYS). */
  idRetentionDays: number;
}

/** The UTC day (days since 1970-01-01) holding an instant. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

/** A day's date as YYYY-MM-DD (years past 9999 with more digits, as Postgres reads them). */
function dateOf(day: number): string {
  const date = new Date(day * DAY_MS);
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}`;
}

/** The partitioned tables, each with one partition per day. */
export type DayTable = 'Event' | 'EventId';

/** The table holding a day's events (`Event_pYYYYMMDD`), or a day's UUIDv7 ids (`EventId_pYYYYMMDD`). */
export function partitionName(day: number, table: DayTable = 'Event'): string {
  return `${table}_p${dateOf(day).replaceAll('-', '')}`;
}

/** The day of a partition of `table` named by `partitionName`; null for any other table. */
export function dayOfPartition(name: string, table: DayTable = 'Event'): number | null {
  const match = new RegExp(`^${table}_p(\\d{4})(\\d{2})(\\d{2})$`).exec(name);
  if (!match) return null;
  const date = new Date(0);
  date.setUTCFullYear(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  return dayOf(date.getTime());
}

/** The oldest instant an event may have and still be kept: older ones are past the retention. */
export function retentionStart(now: number, retentionDays: number): number {
  return now - retentionDays * DAY_MS;
}

/**
 * Which partitions to make and which to drop: every day from the one holding the retention start to `aheadDays`
 * after today exists, and a day whose end is past the retention start goes. Days outside both (a partition made
 * for a far-off day) are left alone.
 */
export function planPartitions(
  now: number,
  existingDays: readonly number[],
  settings: Pick<RetentionSettings, 'retentionDays' | 'aheadDays'>,
): { create: number[]; drop: number[] } {
  const firstKept = dayOf(retentionStart(now, settings.retentionDays));
  const last = dayOf(now) + settings.aheadDays;
  const existing = new Set(existingDays);
  const create: number[] = [];
  for (let day = firstKept; day <= last; day++) if (!existing.has(day)) create.push(day);
  const drop = [...existing].filter((day) => day < firstKept).sort((a, b) => a - b);
  return { create, drop };
}

/**
 * Ids with a timestamp before this instant may be pruned: past their own retention, and older than every partition
 * still there, so no stored event loses its id (a drop that failed keeps its ids until it succeeds).
 */
export function idPruneBefore(now: number, oldestDay: number | null, idRetentionDays: number): number {
  const window = dayOf(retentionStart(now, idRetentionDays)) * DAY_MS;
  return oldestDay === null ? window : Math.min(window, oldestDay * DAY_MS);
}

/**
 * The same for the day partitions of "EventId", whose day is the one its UUIDv7 ids carry: the server makes an id
 * when it receives the event, so an event's day is at most a day after its id's (a timestamp up to
 * MAX_FUTURE_SKEW_MS ahead). A day of ids goes once it ends a day before `idPruneBefore`: every event it may name is
 * gone by then.
 */
export function planIdPartitions(
  now: number,
  existingDays: readonly number[],
  oldestEventDay: number | null,
  settings: Pick<RetentionSettings, 'idRetentionDays' | 'aheadDays'>,
): { create: number[]; drop: number[] } {
  const firstKept = dayOf(idPruneBefore(now, oldestEventDay, settings.idRetentionDays)) - 1;
  const last = dayOf(now) + settings.aheadDays;
  const existing = new Set(existingDays);
  const create: number[] = [];
  for (let day = dayOf(retentionStart(now, settings.idRetentionDays)); day <= last; day++) {
    if (!existing.has(day)) create.push(day);
  }
  const drop = [...existing].filter((day) => day < firstKept).sort((a, b) => a - b);
  return { create, drop };
}

export interface RetentionPass {
  created: string[];
  dropped: string[];
  /** Partitions past the retention that could not be dropped this time, with the reason. */
  kept: { partition: string; reason: string }[];
  /** Ids deleted from "EventId_other" (ids that are not UUIDv7s); the day partitions of ids go whole, in `dropped`. */
  idsPruned: number;
  /** Broadcast log rows (EventBroadcast) pruned: batches broadcast before the oldest day kept. */
  broadcastsPruned: number;
}

export interface EventRetentionOptions {
  prisma: PrismaClient;
  settings: RetentionSettings;
  logger: Logger;
  now?: () => number;
}

export class EventRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(private readonly options: EventRetentionOptions) {}

  /** Runs a pass (a failure is logged: the next one retries), then one every hour until `stop`. */
  async start(): Promise<void> {
    await this.pass();
    this.timer = setInterval(() => void this.pass(), MAINTENANCE_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async pass(): Promise<void> {
    if (this.running) return;
    this.running = this.runOnce().catch((error) =>
      this.options.logger.warn({ err: error }, 'event log maintenance failed; retried at the next pass'),
    );
    await this.running;
    this.running = null;
  }

  /** One maintenance pass: make the missing partitions, drop those past the retention, prune the ids. */
  async runOnce(): Promise<RetentionPass> {
    const { settings, logger } = this.options;
    const now = this.options.now?.() ?? Date.now();
    const plan = planPartitions(now, await this.existingDays(), settings);
    const created = await this.createPartitions(plan.create);
    const dropped = await this.dropDetached('Event', (days) => planPartitions(now, days, settings).drop);
    const kept: RetentionPass['kept'] = [];
    for (const day of plan.drop) {
      const partition = partitionName(day);
      try {
        if (await this.dropPartition(partition)) dropped.push(partition);
      } catch (error) {
        kept.push({ partition, reason: dropRefusal(error) });
      }
    }
    const days = await this.existingDays();
    const oldest = days.length > 0 ? Math.min(...days) : null;
    const ids = planIdPartitions(now, await this.existingDays(this.options.prisma, 'EventId'), oldest, settings);
    created.push(...(await this.createPartitions(ids.create, 'EventId')));
    dropped.push(...(await this.dropDetached('EventId', (days) => planIdPartitions(now, days, oldest, settings).drop)));
    for (const day of ids.drop) {
      const partition = partitionName(day, 'EventId');
      try {
        if (await this.dropPartition(partition, 'EventId')) dropped.push(partition);
      } catch (error) {
        kept.push({ partition, reason: dropRefusal(error) });
      }
    }
    const idsPruned = await this.pruneIds(idPruneBefore(now, oldest, settings.idRetentionDays));
    // A batch broadcast before the oldest day kept holds events received then, whose days are gone (but for a few
    // minutes of skew): a resume from it is told the history is older than what is kept, rather than replaying a
    // silently thinned-out log, and the broadcast log does not grow forever.
    const broadcastsPruned = oldest === null ? 0 : await this.pruneBroadcasts(oldest * DAY_MS);
    if (created.length > 0 || dropped.length > 0 || idsPruned > 0 || broadcastsPruned > 0) {
      logger.info({ created, dropped, idsPruned, broadcastsPruned }, 'event log partitions maintained');
    }
    for (const { partition, reason } of kept) {
      logger.warn(
        { partition, reason },
        'event log partition past the retention not dropped; retried at the next pass',
      );
    }
    return { created, dropped, kept, idsPruned, broadcastsPruned };
  }

  /** Makes the partitions of these days where missing (idempotent); returns the names it made. */
  async createPartitions(days: readonly number[], table: DayTable = 'Event'): Promise<string[]> {
    if (days.length === 0) return [];
    return this.options.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
      const existing = new Set(await this.existingDays(tx, table));
      const made: string[] = [];
      for (const day of new Set(days)) {
        if (existing.has(day)) continue;
        // "Event" by its timestamp; "EventId" by the day number its key holds.
        const bounds =
          table === 'Event'
            ? `('${dateOf(day)} 00:00:00+00') TO ('${dateOf(day + 1)} 00:00:00+00')`
            : `(${day}) TO (${day + 1})`;
        // A day detached by a pass that then stopped, and back within the retention (raised since): attached again,
        // with its rows, rather than a CREATE that fails on its name and so every pass after it.
        await tx.$executeRawUnsafe(
          (await isDetached(tx, partitionName(day, table)))
            ? `ALTER TABLE "${table}" ATTACH PARTITION "${partitionName(day, table)}" FOR VALUES FROM ${bounds}`
            : `CREATE TABLE "${partitionName(day, table)}" PARTITION OF "${table}" FOR VALUES FROM ${bounds}`,
        );
        made.push(partitionName(day, table));
      }
      return made;
    });
  }

  /**
   * Detaches then drops a partition (false: it was not attached). The DETACH and the outbox check are one
   * transaction, which holds the parent table (ACCESS EXCLUSIVE: every read and insert of the log waits) only for
   * those catalogue changes. A day of events still in the outbox rolls it back, so no event is dropped before it is
   * broadcast and aggregated: the check runs after the DETACH, which waits for the inserts under way and lets no other
   * in, so no event of the day can be queued after it. The DROP is a transaction of its own that locks only the table
   * detached: its commit hands the files back to the kernel, which takes time in proportion to their size
   * (bench:retention), and no query of the log waits for that. A table detached and then not dropped (the process died
   * between the two) is dropped by a later pass (`dropDetached`).
   */
  async dropPartition(partition: string, table: DayTable = 'Event'): Promise<boolean> {
    const detached = await this.options.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
      const day = dayOfPartition(partition, table);
      if (day === null || !(await this.existingDays(tx, table)).includes(day)) return false;
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = ${DROP_LOCK_TIMEOUT_MS}`);
      await tx.$executeRawUnsafe(`ALTER TABLE "${table}" DETACH PARTITION "${partition}"`);
      if (table === 'Event') {
        const [queued] = await tx.$queryRawUnsafe<{ queued: boolean }[]>(
          `SELECT EXISTS (SELECT 1 FROM "EventOutbox" WHERE "timestamp" >= $1::timestamptz AND "timestamp" < $2::timestamptz) AS queued`,
          new Date(day * DAY_MS).toISOString(),
          new Date((day + 1) * DAY_MS).toISOString(),
        );
        if (queued?.queued) throw new StillQueued(partition);
      }
      return true;
    });
    if (detached) await this.dropTable(partition);
    return detached;
  }

  /**
   * Drops the tables of `table`'s days detached by an earlier pass and never dropped, among the days `plan` drops;
   * returns their names. Their events were checked out of the outbox when they were detached.
   */
  private async dropDetached(table: DayTable, plan: (days: number[]) => number[]): Promise<string[]> {
    const names = await this.options.prisma.$queryRawUnsafe<{ name: string }[]>(
      `SELECT c.relname AS name FROM pg_class c
       WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relnamespace = current_schema()::regnamespace
         AND c.relname LIKE $1`,
      `${table}\\_p%`,
    );
    const days = names.map((row) => dayOfPartition(row.name, table)).filter((day): day is number => day !== null);
    const dropped: string[] = [];
    for (const day of plan(days)) {
      await this.dropTable(partitionName(day, table));
      dropped.push(partitionName(day, table));
    }
    return dropped;
  }

  /**
   * Drops a day table if it is (still) detached, under the lock that keeps passes of several instances apart: a table
   * listed as detached may have been dropped since, and a day of that name made again as a partition of the log, by
   * another pass; that one is not touched. Its lock is waited for at most DROP_LOCK_TIMEOUT_MS (a read of it, a
   * backup), so a pass never hangs on it while holding the lock every pass needs; the next pass tries again.
   */
  private async dropTable(name: string): Promise<void> {
    await this.options.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${PARTITION_LOCK})`);
      if (!(await isDetached(tx, name))) return;
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = ${DROP_LOCK_TIMEOUT_MS}`);
      await tx.$executeRawUnsafe(`DROP TABLE "${name}"`);
    });
  }

  /**
   * Deletes the ids of "EventId_other" (not UUIDv7s) with a timestamp before `before`; returns how many. One
   * statement: its rows are found through the BRIN index in one pass (deleting in LIMITed chunks re-reads the dead
   * rows of every chunk before, which costs the square of a day's ids), and it locks only those old ids, which no
   * insert of a new event waits on.
   */
  private async pruneIds(before: number): Promise<number> {
    return this.options.prisma.$executeRawUnsafe(
      `DELETE FROM "EventId_other" WHERE "timestamp" < $1::timestamptz`,
      new Date(before).toISOString(),
    );
  }

  private async pruneBroadcasts(before: number): Promise<number> {
    return this.options.prisma.$executeRawUnsafe(
      `DELETE FROM "EventBroadcast" WHERE at < $1::timestamptz`,
      new Date(before).toISOString(),
    );
  }

  private async existingDays(
    client: Pick<PrismaClient, '$queryRawUnsafe'> = this.options.prisma,
    table: DayTable = 'Event',
  ): Promise<number[]> {
    const rows = await client.$queryRawUnsafe<{ name: string }[]>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = '"${table}"'::regclass`,
    );
    return rows.map((row) => dayOfPartition(row.name, table)).filter((day): day is number => day !== null);
  }
}

/** Whether a table of this name exists outside the log: a day detached and not dropped. */
async function isDetached(client: Pick<PrismaClient, '$queryRawUnsafe'>, name: string): Promise<boolean> {
  const [table] = await client.$queryRawUnsafe<{ detached: boolean }[]>(
    `SELECT NOT c.relispartition AS detached FROM pg_class c WHERE c.oid = to_regclass($1)`,
    `"${name}"`,
  );
  return table?.detached === true;
}

/** A day of events not dropped: some are still in the outbox. */
class StillQueued extends Error {
  constructor(partition: string) {
    super(`${partition}: events still queued`);
  }
}

/** Why a drop failed, in words for the log. */
function dropRefusal(error: unknown): string {
  if (error instanceof StillQueued)
    return 'events of that day are still in the outbox, waiting for the stream processor';
  const sql = sqlErrorOf(error);
  if (sql?.code === '55P03') return `"Event" stayed locked for ${DROP_LOCK_TIMEOUT_MS} ms (a long read or write)`;
  return sql ? `${sql.code}: ${sql.message}` : String(error);
}
