// keySlot (src/redis.ts) against the slots Redis Cluster's specification gives, hash tags included.
import { describe, expect, it } from 'vitest';
import { keySlot } from '../../src/redis.js';

describe('keySlot', () => {
  it("should hash keys as Redis Cluster does (CRC16/XMODEM mod 16384, the specification's examples)", () => {
    expect(keySlot('123456789')).toBe(0x31c3 % 16_384);
    expect(keySlot('foo')).toBe(12_182);
    expect(keySlot('bar')).toBe(5_061);
    expect(keySlot('')).toBe(0);
  });

  it('should hash only the first non-empty hash tag', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('a:{agg}:b:M1:3:m')).toBe(keySlot('agg'));
    // An empty first tag: the whole key is hashed.
    expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
    expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
    expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
  });
});
