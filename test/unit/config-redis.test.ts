// Which Redis the server uses: one (REDIS_URL), a cluster (REDIS_CLUSTER_NODES), or none; a bad node list is refused.
import { describe, expect, it } from 'vitest';
import { configWith, redisTargetOf } from '../../src/config.js';

describe('Redis settings', () => {
  it('should take REDIS_CLUSTER_NODES as a cluster of host:port seed nodes', () => {
    const config = configWith({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002' });
    expect(redisTargetOf(config)).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
  });

  it('should use one Redis with REDIS_URL, and none without either', () => {
    expect(redisTargetOf(configWith({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toEqual({
      kind: 'single',
      url: 'redis://127.0.0.1:6379',
    });
    expect(redisTargetOf(configWith({}))).toBeNull();
    expect(redisTargetOf(configWith({ REDIS_CLUSTER_NODES: '' }))).toBeNull();
  });

  it('should refuse a node that is not host:port, naming it', () => {
    expect(() => configWith({ REDIS_CLUSTER_NODES: '10.0.0.1:7000,redis-b' })).toThrow(
      /REDIS_CLUSTER_NODES: not a host:port: "redis-b"/,
    );
    expect(() => configWith({ REDIS_CLUSTER_NODES: 'a:70000' })).toThrow(/not a host:port: "a:70000"/);
    expect(() => configWith({ REDIS_CLUSTER_NODES: 'a:1,,b:2' })).toThrow(/not a host:port: ""/);
  });

  it('should refuse REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(() => configWith({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(
      /REDIS_CLUSTER_NODES: set REDIS_URL \(one Redis\) or REDIS_CLUSTER_NODES \(a Redis Cluster\), not both/,
    );
  });

  it('should refuse a key prefix with a hash tag on a cluster, where it would put every key in one slot', () => {
    expect(() => configWith({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_KEY_PREFIX: 'app{1}:' })).toThrow(
      /REDIS_KEY_PREFIX: must hold no \{ or \} with REDIS_CLUSTER_NODES/,
    );
    expect(configWith({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: 'app{1}:' }).REDIS_KEY_PREFIX).toBe(
      'app{1}:',
    );
  });
});
