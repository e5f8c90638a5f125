-- CreateTable
CREATE TABLE "EventBroadcast" (
    "position" BIGINT NOT NULL,
    "seqs" BIGINT[],
    "seqRange" int8range NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "EventBroadcast_pkey" PRIMARY KEY ("position")
);

-- CreateIndex
CREATE INDEX "EventBroadcast_seqRange_idx" ON "EventBroadcast" USING GIST ("seqRange");
