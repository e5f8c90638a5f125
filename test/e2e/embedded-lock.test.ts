// One process per embedded database folder, with the real entry point (src/main.ts) in child processes: a second
// server on the same DATA_DIR refuses to start and names the first; once the first is killed with SIGKILL, a new
// one starts on the folder it left.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/data-dir-lock.js';
import { graphql } from '../generated/index.js';
import { gqlOk } from '../helpers/app.js';
import { type ChildServer, startChildServer } from '../helpers/child-server.js';
import { PUBLISH_EVENTS } from '../helpers/operations.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'jackdaw-embedded-lock-'));
const adminKey = `test-admin-${Date.now()}-embedded-lock`;
const env = { DATA_DIR: dataDir, ADMIN_API_KEY: adminKey, LOG_LEVEL: 'warn' };
const children: ChildServer[] = [];
const EVENT = graphql(`
  query StoredEvent($id: ID!) {
    event(id: $id) {
      id
    }
  }
`);

afterAll(async () => {
  for (const child of children) await child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

// PGlite's first start in a folder (initdb, then the migrations) has taken over a minute on a loaded 2-core machine.
const START_TIMEOUT_MS = 150_000;

async function start(): Promise<ChildServer> {
  const child = await startChildServer(env, { startTimeoutMs: START_TIMEOUT_MS });
  children.push(child);
  return child;
}

describe('one process per DATA_DIR', () => {
  it(
    'should refuse a second server on the folder, naming the first, and let a new one start once the first is killed',
    async () => {
      const first = await start();
      const inputs = [{ type: 'PERFORMANCE_METRIC' as const, data: { metric_name: 'embedded_lock', value: 1 } }];
      const { publishEvents } = await gqlOk(first.url, PUBLISH_EVENTS, { inputs }, adminKey);

      // Kept among the children, so a second server that did start is stopped with the rest.
      const second = startChildServer(env).then((child) => {
        children.push(child);
        return child;
      });
      await expect(second).rejects.toThrow(
        new RegExp(
          `exited with 1[\\s\\S]*DATA_DIR ${dataDir} is in use by another process: pid ${first.process.pid} on ${hostname()}, started `,
        ),
      );

      await first.kill('SIGKILL');
      const next = await start();
      const stored = await gqlOk(next.url, EVENT, { id: publishEvents.ids[0] ?? '' }, adminKey);
      expect(stored).toEqual({ event: { id: publishEvents.ids[0] } });
      // A clean stop gives the folder up.
      await next.kill('SIGTERM');
      expect(next.process.exitCode).toBe(0);
      expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
    },
    3 * START_TIMEOUT_MS,
  );
});
