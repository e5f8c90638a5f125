// The embedded database's folder lock (src/data-dir-lock.ts) on the real file system: one holder at a time, a holder
// named in the refusal, and a lock left by a process that is gone taken over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DataDirInUseError,
  LOCK_FILE,
  LOCK_HEARTBEAT_MS,
  LOCK_STALE_MS,
  lockDataDir,
} from '../../src/data-dir-lock.js';

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'jackdaw-lock-'));
  dirs.push(dir);
  return dir;
}

/** The pid of a process that has run and exited. */
function deadPid(): number {
  const { pid } = spawnSync(process.execPath, ['-e', '']);
  if (pid === undefined) throw new Error('no process was started');
  return pid;
}

describe('DATA_DIR lock', () => {
  it('should refuse a second holder, naming the first, until the first releases it', async () => {
    const dir = tempDir();
    const first = await lockDataDir(dir);
    const refused = lockDataDir(dir);
    await expect(refused).rejects.toBeInstanceOf(DataDirInUseError);
    await expect(refused).rejects.toThrow(`pid ${process.pid} on ${hostname()}`);
    first.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    (await lockDataDir(dir)).release();
  });

  it('should take over a lock left by a process that is gone', async () => {
    const dir = tempDir();
    const stale = { pid: deadPid(), host: hostname(), startedAt: new Date().toISOString() };
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(stale));
    const lock = await lockDataDir(dir);
    expect(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('should refuse a lock held on another host while its heartbeat is fresh, saying when it would lapse', async () => {
    const dir = tempDir();
    const elsewhere = { pid: process.pid, host: `not-${hostname()}`, startedAt: '2026-11-27T10:00:00.000Z' };
    writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify(elsewhere));
    await expect(lockDataDir(dir)).rejects.toThrow(
      `pid ${process.pid} on not-${hostname()}, started 2026-11-27T10:00:00.000Z. One process at a time may open an embedded database: stop that one, or give this one another DATA_DIR. If that process is gone, its lock is taken over ${LOCK_STALE_MS / 1000} s after its last heartbeat.`,
    );
  });

  it('should take over a lock whose heartbeat stopped, whatever host or live pid it names', async () => {
    for (const holder of [
      { pid: process.pid, host: `not-${hostname()}` }, // a container recreated under another hostname
      { pid: 1, host: hostname() }, // a pid that exists (reused after a reboot)
    ]) {
      const dir = tempDir();
      const lockPath = path.join(dir, LOCK_FILE);
      writeFileSync(lockPath, JSON.stringify({ ...holder, startedAt: '2026-11-27T10:00:00.000Z' }));
      const lastBeat = new Date(Date.now() - LOCK_STALE_MS - 1_000);
      utimesSync(lockPath, lastBeat, lastBeat);
      const lock = await lockDataDir(dir);
      expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
      lock.release();
    }
  });

  it('should keep its own lock fresh while it holds it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const dir = tempDir();
      const lockPath = path.join(dir, LOCK_FILE);
      const lock = await lockDataDir(dir);
      const longAgo = new Date(Date.now() - 60_000);
      utimesSync(lockPath, longAgo, longAgo);
      vi.advanceTimersByTime(LOCK_HEARTBEAT_MS);
      expect(Date.now() - statSync(lockPath).mtimeMs).toBeLessThan(LOCK_STALE_MS);
      lock.release();
    } finally {
      vi.useRealTimers();
    }
  });
});
