-- CreateTable
CREATE TABLE "EventBroadcast" (
    "position" BIGINT NOT NULL,
    "seqs" BIGINT[],
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EventBroadcast_pkey" PRIMARY KEY ("position")
);

-- CreateIndex
CREATE INDEX "EventBroadcast_seqs_idx" ON "EventBroadcast" USING GIN ("seqs");
