// One contract, two buses: in-process and Redis (real Redis, a key prefix of this file's own).
import { afterAll, describe, expect, it } from 'vitest';
import { type Bus, createMemoryBus, createRedisBus } from '../../src/bus/bus.js';
import { eventually } from '../helpers/app.js';
import { REDIS_URL, redisKeyPrefix } from '../helpers/services.js';

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
    const a: unknown[] = [];
    const b: unknown[] = [];
    const other: unknown[] = [];
    await bus.subscribe('metrics:changed', (p) => a.push(p));
    await bus.subscribe('metrics:changed', (p) => b.push(p));
    await bus.subscribe('apiKeys:revoked', (p) => other.push(p));
    await bus.publish('metrics:changed', { metrics: ['x', 'y'] });
    await eventually(() => a.length === 1 && b.length === 1);
    expect(a[0]).toEqual({ metrics: ['x', 'y'] });
    expect(other).toEqual([]);
  });

  it('should stop delivering after unsubscribe', async () => {
    const bus = open();
    const got: unknown[] = [];
    const control: unknown[] = [];
    const unsubscribe = await bus.subscribe('processor:nudge', (p) => got.push(p));
    await bus.subscribe('processor:nudge', (p) => control.push(p));
    unsubscribe();
    await bus.publish('processor:nudge', {});
    await eventually(() => control.length === 1);
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
    const got: unknown[] = [];
    await two.subscribe('apiKeys:revoked', (p) => got.push(p));
    await one.publish('apiKeys:revoked', { id: 'k1' });
    await eventually(() => got.length === 1);
    expect(got).toEqual([{ id: 'k1' }]);
    await Promise.all([one.close(), two.close()]);
  });

  it('should reject ping when Redis is unreachable', async () => {
    const bus = createRedisBus({ url: 'redis://127.0.0.1:1', keyPrefix: prefix });
    await expect(bus.ping()).rejects.toThrow();
    await bus.close();
  });
});
