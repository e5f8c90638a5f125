-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "EventType" AS ENUM ('BENCHMARK_COMPLETED', 'ANOMALY_DETECTED', 'COMPETITIVE_UPDATE', 'ALERT_TRIGGERED', 'INSIGHT_GENERATED', 'PERFORMANCE_METRIC');

-- CreateEnum
CREATE TYPE "Severity" AS ENUM ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL');

-- CreateEnum
CREATE TYPE "AlertStatus" AS ENUM ('FIRING', 'ACKNOWLEDGED', 'RESOLVED');

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('VIEWER', 'PUBLISHER', 'ADMIN');

-- CreateEnum
CREATE TYPE "DeliveryChannel" AS ENUM ('WEBHOOK', 'EMAIL');

-- CreateTable
CREATE TABLE "Event" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "type" "EventType" NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "receivedAt" TIMESTAMPTZ(3) NOT NULL,
    "data" JSONB NOT NULL,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "EventOutbox" (
    "seq" BIGINT NOT NULL,

    CONSTRAINT "EventOutbox_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "AlertRule" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "severity" "Severity" NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "conditions" JSONB NOT NULL,
    "forSeconds" INTEGER NOT NULL DEFAULT 0,
    "webhookUrls" TEXT[],
    "emails" TEXT[],
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "AlertRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Alert" (
    "id" UUID NOT NULL,
    "seq" BIGSERIAL NOT NULL,
    "ruleId" UUID NOT NULL,
    "ruleName" TEXT NOT NULL,
    "severity" "Severity" NOT NULL,
    "message" TEXT NOT NULL,
    "values" JSONB NOT NULL,
    "status" "AlertStatus" NOT NULL DEFAULT 'FIRING',
    "triggeredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMPTZ(3),
    "acknowledgedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Alert_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AlertDelivery" (
    "id" UUID NOT NULL,
    "alertId" UUID NOT NULL,
    "channel" "DeliveryChannel" NOT NULL,
    "target" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "ok" BOOLEAN NOT NULL,
    "statusCode" INTEGER,
    "error" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AlertDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Event_seq_key" ON "Event"("seq");

-- CreateIndex
CREATE INDEX "Event_timestamp_seq_idx" ON "Event"("timestamp" DESC, "seq" DESC);

-- CreateIndex
CREATE INDEX "Event_type_timestamp_seq_idx" ON "Event"("type", "timestamp" DESC, "seq" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "Alert_seq_key" ON "Alert"("seq");

-- CreateIndex
CREATE INDEX "Alert_ruleId_seq_idx" ON "Alert"("ruleId", "seq" DESC);

-- CreateIndex
CREATE INDEX "Alert_status_seq_idx" ON "Alert"("status", "seq" DESC);

-- CreateIndex
CREATE INDEX "AlertDelivery_alertId_at_idx" ON "AlertDelivery"("alertId", "at");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_hash_key" ON "ApiKey"("hash");

-- AddForeignKey
ALTER TABLE "EventOutbox" ADD CONSTRAINT "EventOutbox_seq_fkey" FOREIGN KEY ("seq") REFERENCES "Event"("seq") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AlertDelivery" ADD CONSTRAINT "AlertDelivery_alertId_fkey" FOREIGN KEY ("alertId") REFERENCES "Alert"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- At most one unresolved alert per rule: the database, not an in-memory flag, guarantees that a firing rule
-- produces exactly one alert however many instances evaluate it. (Prisma's schema cannot express partial indexes.)
CREATE UNIQUE INDEX "Alert_one_open_per_rule" ON "Alert"("ruleId") WHERE "status" <> 'RESOLVED';
