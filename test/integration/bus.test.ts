// One contract, two buses: in-process and Redis (real Redis, a key prefix of this file's own).
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createMemoryBus, createRedisBus } from '../../src/bus/bus.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';
import { Recording } from '../helpers/waits.js';

const prefix = redisKeyPrefix();
const implementations: [string, () => Bus][] = [
  ['in-process', () => createMemoryBus()],
  ['redis', () => createRedisBus({ url: REDIS_URL, keyPrefix: prefix })],
];

describe.each(implementations)('%s bus', (_name, create) => {
  const opened: Bus[] = [];
  const open = () => {
    const bus = create();
    opened.push(bus);
    return bus;
  };
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
  });

  it('should deliver a published message to every subscriber of its topic, and only of its topic', async () => {
    const bus = open();
    const a = new Recording<unknown>();
    const b = new Recording<unknown>();
    const other = new Recording<unknown>();
    await bus.subscribe('metrics:changed', (p) => a.push(p));
    await bus.subscribe('metrics:changed', (p) => b.push(p));
    await bus.subscribe('apiKeys:revoked', (p) => other.push(p));
    await bus.publish('metrics:changed', { metrics: ['x', 'y'] });
    await Promise.all([a.atLeast(1), b.atLeast(1)]);
    expect(a.items).toEqual([{ metrics: ['x', 'y'] }]);
    expect(b.items).toEqual([{ metrics: ['x', 'y'] }]);
    expect(other.items).toEqual([]);
  });

  it('should stop delivering after unsubscribe', async () => {
    const bus = open();
    const got: unknown[] = [];
    const control = new Recording<unknown>();
    const unsubscribe = await bus.subscribe('processor:nudge', (p) => got.push(p));
    await bus.subscribe('processor:nudge', (p) => control.push(p));
    unsubscribe();
    await bus.publish('processor:nudge', {});
    // Delivered to every subscriber at once: once the control copy is in, the other would be too.
    await control.atLeast(1);
    expect(got).toEqual([]);
  });

  it('should answer ping while it can deliver', async () => {
    await expect(open().ping()).resolves.toBeUndefined();
  });
});

describe('redis bus', () => {
  it('should deliver across two separate bus instances (two app instances)', async () => {
    const one = createRedisBus({ url: REDIS_URL, keyPrefix: prefix });
    const two = createRedisBus({ url: REDIS_URL, keyPrefix: prefix });
    const got = new Recording<unknown>();
    await two.subscribe('apiKeys:revoked', (p) => got.push(p));
    await one.publish('apiKeys:revoked', { id: 'k1' });
    expect(await got.atLeast(1)).toEqual([{ id: 'k1' }]);
    await Promise.all([one.close(), two.close()]);
  });

  it('should reject ping when Redis is unreachable', async () => {
    const bus = createRedisBus({ url: 'redis://127.0.0.1:1', keyPrefix: prefix });
    await expect(bus.ping()).rejects.toThrow();
    await bus.close();
  });
});
