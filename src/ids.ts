import { randomUUID } from 'node:crypto';

// Ids are UUIDs stored in uuid columns: a malformed one must be turned away before it reaches Postgres, where the
// cast would fail the whole query instead of matching nothing.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(id: string): boolean {
  return UUID.test(id);
}

/**
 * A new event id: a UUIDv7 (RFC 9562), its first 48 bits the current Unix time in milliseconds, the rest random.
 * Ids made in time order go to the right-hand end of every btree that holds them (the log's key, "EventId"), where
 * random ids would touch a random page of a large index each, and after every checkpoint write a whole page to the
 * WAL for it. The time also names the day partition of "EventId" that holds the id (see src/events/store.ts), so ids
 * are dropped a day at a time like the events.
 */
export function newEventId(now: number = Date.now()): string {
  if (now !== lastMs) {
    lastMs = now;
    lastPrefix = now.toString(16).padStart(12, '0');
    lastPrefix = `${lastPrefix.slice(0, 8)}-${lastPrefix.slice(8)}-7`;
  }
  // randomUUID's "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx": its random bits after the version digit, variant included.
  return lastPrefix + randomUUID().slice(15);
}

let lastMs = -1;
let lastPrefix = '';

/** The UTC day (days since 1970-01-01) of a UUIDv7's time; null for an id of any other version. */
export function dayOfUuidV7(id: string): number | null {
  if (id[14] !== '7') return null;
  return Math.floor(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16) / 86_400_000);
}
