import { describe, expect, it } from 'vitest';
import { connect, decodeValue, encodeValue } from '../../src/roles/ipc.js';

describe('IPC between the primary and its workers', () => {
  it('should carry the non-finite numbers of metrics through JSON unchanged', () => {
    const metrics = [
      {
        name: 'x',
        values: [{ value: Number.NaN }, { value: Number.POSITIVE_INFINITY }, { value: -Infinity }, { value: 1.5 }],
      },
    ];
    const decoded = decodeValue(JSON.parse(JSON.stringify(encodeValue(metrics)))) as typeof metrics;
    expect(decoded[0]?.values.map((v) => v.value)).toEqual([Number.NaN, Number.POSITIVE_INFINITY, -Infinity, 1.5]);
  });

  it('should answer an ask over a channel that serialises as JSON', async () => {
    type Asks = { localMetrics: { value: number; labels: Record<string, string> } };
    const listeners: [((m: unknown) => void)[], ((m: unknown) => void)[]] = [[], []];
    // Each side's messages reach the other as node's default (JSON) serialization would hand them over.
    const channel = (side: 0 | 1) => ({
      send: (message: unknown) => {
        const copy = JSON.parse(JSON.stringify(message));
        queueMicrotask(() => {
          for (const listener of listeners[1 - side] ?? []) listener(copy);
        });
      },
      onMessage: (listener: (m: unknown) => void) => listeners[side].push(listener),
    });
    const asker = connect<Asks, Record<string, never>>(channel(0), { answerers: {}, timeoutMs: 1_000 });
    connect<Record<string, never>, Asks>(channel(1), {
      answerers: { localMetrics: () => ({ value: Number.POSITIVE_INFINITY, labels: { le: '+Inf' } }) },
      timeoutMs: 1_000,
    });
    await expect(asker.ask('localMetrics')).resolves.toEqual({
      value: Number.POSITIVE_INFINITY,
      labels: { le: '+Inf' },
    });
  });
});
