-- Each outbox partition's last batch applied to the aggregate store (a digest of the store's record of it), written
-- in the statement that deletes that batch from the outbox. A store whose record differs and whose batch is no longer
-- queued is behind Postgres (a Redis failed over to a lagging replica, or restored from an older snapshot): the
-- stream processor rebuilds that partition instead of trusting it. Empty until the first batch after this upgrade,
-- which the processor reads as "nothing to compare", as before.
-- "written" is drawn from its sequence on every write, so the latest record of any partition count is known without
-- trusting clocks.
-- CreateTable
CREATE TABLE "ProcessorApplied" (
    "partitions" INTEGER NOT NULL,
    "partition" INTEGER NOT NULL,
    "batch" TEXT NOT NULL,
    "written" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProcessorApplied_pkey" PRIMARY KEY ("partitions","partition")
);
