-- The transaction that published each event, which decides its partition of the outbox (src/events/partitions.ts):
-- a hash of it modulo PROCESSOR_PARTITIONS, computed by the processors at read time. One publish statement is one
-- transaction, so the events of one publish share a partition and are broadcast in their order; publishes spread
-- over the partitions. The default fills it in, so the publish statement names no new column. On the log too, so a
-- partition rebuilt after Redis lost its state reads its own processed events back.
-- Rows already stored get the value of this migration (a non-volatile default, stored once, with no table rewrite):
-- they all fall in one partition, whose rebuild reads them back, as any rebuild after this upgrade does.
ALTER TABLE "Event" ADD COLUMN "txid" BIGINT NOT NULL DEFAULT txid_current();
ALTER TABLE "EventOutbox" ADD COLUMN "txid" BIGINT NOT NULL DEFAULT txid_current();
