// Ids the server gives events: UUIDv7s carrying the time they were made, so they sort in time order (cheap btree
// inserts) and name the day partition of "EventId" that holds them.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dayOfUuidV7, isUuid, newEventId } from '../../src/ids.js';

describe('newEventId', () => {
  it('should make a UUIDv7 (RFC 9562 version and variant) carrying the time given', () => {
    const at = Date.UTC(2026, 10, 27, 23, 59, 59, 999);
    const id = newEventId(at);
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe('7');
    expect(['8', '9', 'a', 'b']).toContain(id[19]);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    expect(dayOfUuidV7(id)).toBe(Math.floor(at / 86_400_000));
    expect(dayOfUuidV7(newEventId(at + 1))).toBe(Math.floor(at / 86_400_000) + 1);
  });

  it('should make distinct ids that sort in the order of their times', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => newEventId(1_800_000_000_000 + Math.floor(i / 10)));
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 10; i < ids.length; i += 10) expect((ids[i - 1] as string) < (ids[i] as string)).toBe(true);
  });

  it('should give no day for an id of another version', () => {
    expect(dayOfUuidV7(randomUUID())).toBeNull();
  });
});
