-- CreateEnum
CREATE TYPE "NotificationKind" AS ENUM ('FIRING', 'REPEAT', 'RESOLVED', 'REDELIVERY');

-- AlterTable
ALTER TABLE "Alert" ADD COLUMN     "acknowledgeComment" TEXT,
ADD COLUMN     "acknowledgedBy" TEXT,
ADD COLUMN     "notices" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "notifiedAt" TIMESTAMPTZ(3),
ADD COLUMN     "silencedBy" UUID;

-- AlterTable
ALTER TABLE "AlertRule" ADD COLUMN     "notifyOnResolve" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "repeatIntervalSeconds" INTEGER,
ADD COLUMN     "summary" TEXT;

-- AlterTable
ALTER TABLE "NotificationDelivery" ADD COLUMN     "kind" "NotificationKind" NOT NULL DEFAULT 'FIRING';

-- CreateTable
CREATE TABLE "Silence" (
    "id" UUID NOT NULL,
    "ruleIds" UUID[],
    "severities" "Severity"[],
    "startsAt" TIMESTAMPTZ(3) NOT NULL,
    "endsAt" TIMESTAMPTZ(3) NOT NULL,
    "comment" TEXT NOT NULL,
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Silence_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Silence_endsAt_idx" ON "Silence"("endsAt");

-- Alerts stored before this migration had their firing notice queued when they fired.
UPDATE "Alert" SET "notifiedAt" = "triggeredAt", "notices" = 1;
