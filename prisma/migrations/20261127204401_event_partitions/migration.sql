-- The event log becomes a table partitioned by day (UTC) on "timestamp", so that retention drops a whole day at
-- once instead of deleting its rows (src/events/retention.ts makes partitions ahead and drops those past
-- EVENT_RETENTION_DAYS). The Prisma schema cannot express partitioning: prisma/schema.prisma describes the columns,
-- keys and indexes of the parent table, which are what this migration makes.
--
-- The unique keys of a partitioned table must hold the partition column, so the primary key of "Event" is
-- (id, "timestamp") and seq is unique with "timestamp": neither makes an id unique by itself any more. "EventId"
-- does: one row per stored event id, written in the same statement as the event (src/events/store.ts), and kept for
-- at least as long as its event (EVENT_ID_RETENTION_DAYS). Its "timestamp" is that of the stored event, which also
-- finds the one partition holding the event of an id.
--
-- Every row of the previous table is copied, with its seq (the sequence carries on). Partitions are made for every
-- UTC day holding rows, and for the 30 days before today and the 7 after (the defaults; the maintenance job makes
-- the configured ones at start). Days past EVENT_RETENTION_DAYS are kept until the first maintenance pass drops them.
-- (No apostrophes in these comments: the migration engine splits the script and would read one as a quote.)

-- CreateTable
CREATE TABLE "EventId" (
    "id" UUID NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "EventId_pkey" PRIMARY KEY ("id")
);

-- Ids are written about in time order: a BRIN index finds the ids of a day for retention at almost no cost per insert.
CREATE INDEX "EventId_timestamp_idx" ON "EventId" USING BRIN ("timestamp");

-- Set the previous table aside; its sequence moves to the new table.
ALTER TABLE "EventOutbox" DROP CONSTRAINT "EventOutbox_seq_fkey";
ALTER TABLE "Event" ALTER COLUMN "seq" DROP DEFAULT;
ALTER SEQUENCE "Event_seq_seq" OWNED BY NONE;
ALTER TABLE "Event" RENAME TO "Event_unpartitioned";
ALTER TABLE "Event_unpartitioned" DROP CONSTRAINT "Event_pkey";
DROP INDEX "Event_seq_key";
DROP INDEX "Event_timestamp_seq_idx";
DROP INDEX "Event_type_timestamp_seq_idx";

CREATE TABLE "Event" (
    "id" UUID NOT NULL,
    "seq" BIGINT NOT NULL DEFAULT nextval('"Event_seq_seq"'),
    "type" "EventType" NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL,
    "data" JSONB NOT NULL
) PARTITION BY RANGE ("timestamp");
ALTER SEQUENCE "Event_seq_seq" OWNED BY "Event"."seq";

DO $$
DECLARE
  day date;
BEGIN
  FOR day IN
    SELECT DISTINCT ("timestamp" AT TIME ZONE 'UTC')::date FROM "Event_unpartitioned"
    UNION
    SELECT generate_series((now() AT TIME ZONE 'UTC')::date - 30, (now() AT TIME ZONE 'UTC')::date + 7, '1 day')::date
  LOOP
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF "Event" FOR VALUES FROM (%L) TO (%L)',
      'Event_p' || to_char(day, 'YYYYMMDD'),
      day::timestamp AT TIME ZONE 'UTC',
      (day + 1)::timestamp AT TIME ZONE 'UTC'
    );
  END LOOP;
END $$;

INSERT INTO "Event" ("id", "seq", "type", "timestamp", "receivedAt", "data")
SELECT "id", "seq", "type", "timestamp", "receivedAt", "data" FROM "Event_unpartitioned";
INSERT INTO "EventId" ("id", "timestamp") SELECT "id", "timestamp" FROM "Event_unpartitioned";

-- Keys and indexes after the copy: built once per partition rather than row by row.
ALTER TABLE "Event" ADD CONSTRAINT "Event_pkey" PRIMARY KEY ("id", "timestamp");
CREATE UNIQUE INDEX "Event_seq_timestamp_key" ON "Event"("seq", "timestamp");
CREATE INDEX "Event_timestamp_seq_idx" ON "Event"("timestamp" DESC, "seq" DESC);
CREATE INDEX "Event_type_timestamp_seq_idx" ON "Event"("type", "timestamp" DESC, "seq" DESC);

-- The outbox references its event by (seq, "timestamp"): a foreign key to a partitioned table names the partition
-- column, and the join of the processor on both reads one partition per event. A partition still referenced (events not
-- yet processed) cannot be detached, so retention never drops an event before it is broadcast and aggregated.
ALTER TABLE "EventOutbox" ADD COLUMN "timestamp" TIMESTAMPTZ(3);
UPDATE "EventOutbox" o SET "timestamp" = e."timestamp" FROM "Event_unpartitioned" e WHERE e."seq" = o."seq";
ALTER TABLE "EventOutbox" ALTER COLUMN "timestamp" SET NOT NULL;
ALTER TABLE "EventOutbox" ADD CONSTRAINT "EventOutbox_seq_timestamp_fkey" FOREIGN KEY ("seq", "timestamp") REFERENCES "Event"("seq", "timestamp") ON DELETE CASCADE ON UPDATE CASCADE;

DROP TABLE "Event_unpartitioned";
