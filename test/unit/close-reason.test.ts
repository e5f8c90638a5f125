// A WebSocket close reason is at most 123 bytes of UTF-8; ws throws on a longer one, so messages are cut to fit.
import { describe, expect, it } from 'vitest';
import { closeReason } from '../../src/transport/websocket.js';

describe('closeReason', () => {
  it('should keep a short reason as it is', () => {
    expect(closeReason('the token expired')).toBe('the token expired');
  });

  it('should cut a long reason to 123 bytes on a character boundary, multi-byte characters included', () => {
    for (const text of ['é'.repeat(200), '😀'.repeat(100), `${'x'.repeat(122)}é`, 'a'.repeat(500)]) {
      const reason = closeReason(text);
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      expect(text.startsWith(reason)).toBe(true);
      expect(reason).not.toContain('\uFFFD');
      expect(Buffer.byteLength(reason)).toBeGreaterThan(119);
    }
  });
});
