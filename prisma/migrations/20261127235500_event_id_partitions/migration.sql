-- The write path of the event log, made cheap again (BENCHMARKS.md, "Event log write path").
--
-- 1. The outbox no longer has a foreign key to "Event". Checked row by row against a partitioned table, it was the
--    largest single cost of a publish (a cached plan over every partition per outbox row, and a key-share lock on
--    each new event). What it guarded, retention never dropping a day whose events are still queued, is checked by
--    the drop itself (src/events/retention.ts: after DETACH, which no insert can pass, a day with outbox rows is
--    kept). Events are never deleted row by row, so its ON DELETE CASCADE had nothing to do.
--
-- 2. The outbox gets an index on "timestamp" (see below).
--
-- 3. "EventId" is partitioned too, so that the ids of a day are dropped with it instead of deleted row by row. Its
--    partition key "day" is a function of the id alone: the UTC day of the time a UUIDv7 carries (the server makes
--    every id it assigns a UUIDv7, src/ids.ts), or -1 for any other id (a client may send any UUID), which all go
--    to "EventId_other" and are pruned there by DELETE as before. As (id, day) is unique and day follows from id,
--    an id is still stored once, whatever partition a repeat of its event would fall in.
--
-- Every id kept so far is copied (with its day). Partitions are made for every day holding ids and for the 30 days
-- before today and the 7 after (the defaults; the maintenance job makes the configured ones).
-- (No apostrophes in these comments: the migration engine splits the script and would read one as a quote.)

ALTER TABLE "EventOutbox" DROP CONSTRAINT "EventOutbox_seq_timestamp_fkey";
-- What the drop of a day checks, while it holds the lock on "Event": an index read, not a scan of the whole backlog.
CREATE INDEX "EventOutbox_timestamp_idx" ON "EventOutbox"("timestamp");

ALTER TABLE "EventId" RENAME TO "EventId_unpartitioned";
ALTER TABLE "EventId_unpartitioned" DROP CONSTRAINT "EventId_pkey";
DROP INDEX "EventId_timestamp_idx";

-- CreateTable
CREATE TABLE "EventId" (
    "id" UUID NOT NULL,
    "day" INTEGER NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL
) PARTITION BY RANGE ("day");

CREATE TABLE "EventId_other" PARTITION OF "EventId" FOR VALUES FROM (MINVALUE) TO (0);

DO $$
DECLARE
  day integer;
  today integer := floor(extract(epoch FROM now()) / 86400)::integer;
BEGIN
  FOR day IN
    SELECT DISTINCT (('x' || substr(id::text, 1, 8) || substr(id::text, 10, 4))::bit(48)::bigint / 86400000)::integer
    FROM "EventId_unpartitioned" WHERE substr(id::text, 15, 1) = '7'
    UNION
    SELECT generate_series(today - 30, today + 7)
  LOOP
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF "EventId" FOR VALUES FROM (%s) TO (%s)',
      'EventId_p' || to_char(date '1970-01-01' + day, 'YYYYMMDD'), day, day + 1
    );
  END LOOP;
END $$;

INSERT INTO "EventId" ("id", "day", "timestamp")
SELECT "id",
       CASE WHEN substr(id::text, 15, 1) = '7'
         THEN (('x' || substr(id::text, 1, 8) || substr(id::text, 10, 4))::bit(48)::bigint / 86400000)::integer
         ELSE -1 END,
       "timestamp"
FROM "EventId_unpartitioned";

-- Keys and indexes after the copy: built once per partition rather than row by row.
ALTER TABLE "EventId" ADD CONSTRAINT "EventId_pkey" PRIMARY KEY ("id", "day");
-- Ids are written about in time order: a BRIN index finds the ids to prune in "EventId_other" at almost no cost per insert.
CREATE INDEX "EventId_timestamp_idx" ON "EventId" USING BRIN ("timestamp");

DROP TABLE "EventId_unpartitioned";
