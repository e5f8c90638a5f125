-- CreateEnum
CREATE TYPE "NoDataState" AS ENUM ('OK', 'KEEP', 'ALERTING');

-- AlterTable
ALTER TABLE "AlertRule" ADD COLUMN     "keepFiringForSeconds" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "noDataState" "NoDataState" NOT NULL DEFAULT 'OK';
