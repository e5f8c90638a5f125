-- AlterTable
ALTER TABLE "EventOutbox" ADD COLUMN     "traceparent" TEXT;

-- AlterTable
ALTER TABLE "NotificationDelivery" ADD COLUMN     "traceparent" TEXT;
