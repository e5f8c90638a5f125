-- Alerts per label set (issue 12 item 10)

-- AlterTable
ALTER TABLE "AlertRule" ADD COLUMN     "groupBy" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "Alert" ADD COLUMN     "labels" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- AlterTable
ALTER TABLE "Silence" ADD COLUMN     "labels" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- One unresolved alert per rule and label set (the label set as "name=value" items, sorted by name): a rule without
-- groupBy has the empty set, so for it this is the index it replaces.
DROP INDEX "Alert_one_open_per_rule";
CREATE UNIQUE INDEX "Alert_one_open_per_rule" ON "Alert"("ruleId", "labels") WHERE "status" <> 'RESOLVED';
