-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "bootstrap" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "eventTypes" "EventType"[] DEFAULT ARRAY[]::"EventType"[],
ADD COLUMN     "expiresAt" TIMESTAMPTZ(3),
ADD COLUMN     "lastUsedAt" TIMESTAMPTZ(3);

-- Keys the server made at start before this column existed carry these names (auth/keys.ts bootstrapAdmin): marked,
-- so the next start revokes every one of them that is not the configured ADMIN_API_KEY.
UPDATE "ApiKey" SET "bootstrap" = true WHERE "name" IN ('ADMIN_API_KEY', 'first admin');
