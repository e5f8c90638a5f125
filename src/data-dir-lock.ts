// One process per embedded database folder. PGlite has no guard of its own: two processes opening one DATA_DIR both
// run and overwrite each other's files, losing acknowledged events. So the first to open it writes a lock file there
// naming itself (pid, host, start time); another process refuses to start, naming the holder. A lock whose holder is
// gone (killed with SIGKILL, the machine restarted) is taken over.
//
// While held, the lock file is touched every LOCK_HEARTBEAT_MS; one untouched for LOCK_STALE_MS is stale whoever it
// names, which frees a folder left by a process on another host (a container recreated under a new hostname, a
// folder on shared storage) or by a pid reused after a reboot.
//
// The lock appears whole or not at all: it is written under a name of its own, then hard-linked into place, and a
// link fails when the name exists. A lock found stale is removed only under a short-lived takeover directory (mkdir is
// atomic too) and only if it is still the same file, so of two processes restarting at once exactly one gets it.
import { randomUUID } from 'node:crypto';
import {
  linkSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_FILE = 'jackdaw.lock';

/** Who holds a folder: what the lock file says. */
export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

export interface DataDirLock {
  release(): void;
}

export class DataDirInUseError extends Error {
  constructor(dataDir: string, holder: LockHolder) {
    const sameHost = holder.host === hostname();
    super(
      `DATA_DIR ${dataDir} is in use by another process: pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}. ` +
        'One process at a time may open an embedded database: stop that one, or give this one another DATA_DIR.' +
        (sameHost
          ? ''
          : ` If that process is gone, its lock is taken over ${LOCK_STALE_MS / 1000} s after its last heartbeat.`),
    );
    this.name = 'DataDirInUseError';
  }
}

// A process that died inside the takeover (a few file operations) leaves its directory behind; past this age it is
// taken for abandoned.
const TAKEOVER_ABANDONED_MS = 10_000;

export const LOCK_HEARTBEAT_MS = 5_000;
/** Three missed heartbeats: a holder that is alive touches its lock well within this, even when busy. */
export const LOCK_STALE_MS = 3 * LOCK_HEARTBEAT_MS;

/** Lock files this process holds: its own pid in a lock does not make that lock stale while it holds it. */
const heldHere = new Set<string>();

export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  const lockPath = path.resolve(dataDir, LOCK_FILE);
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
  };
  const content = JSON.stringify(me);
  for (;;) {
    if (tryCreate(lockPath, content)) {
      heldHere.add(lockPath);
      const heartbeat = setInterval(() => {
        const now = new Date();
        try {
          utimesSync(lockPath, now, now);
        } catch {
          // Gone (the folder was removed): nothing to keep fresh.
        }
      }, LOCK_HEARTBEAT_MS);
      heartbeat.unref();
      return {
        release() {
          clearInterval(heartbeat);
          heldHere.delete(lockPath);
          if (readLock(lockPath) === content) rmSync(lockPath, { force: true });
        },
      };
    }
    const found = readLock(lockPath);
    if (found === null) continue; // released meanwhile
    const holder = parseHolder(found);
    if (holder && isAlive(holder, lockPath)) throw new DataDirInUseError(dataDir, holder);
    await removeStale(lockPath, found);
  }
}

function tryCreate(lockPath: string, content: string): boolean {
  const candidate = `${lockPath}.${randomUUID()}`;
  writeFileSync(candidate, content, { flag: 'wx' });
  try {
    linkSync(candidate, lockPath);
    return true;
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(candidate, { force: true });
  }
}

function readLock(lockPath: string): string | null {
  try {
    return readFileSync(lockPath, 'utf8');
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return null;
    throw error;
  }
}

/** The holder a lock names, or null for a file that names none (not written by this code): taken for stale. */
function parseHolder(content: string): LockHolder | null {
  try {
    const holder = JSON.parse(content) as Partial<LockHolder>;
    return typeof holder.pid === 'number' && typeof holder.host === 'string' && typeof holder.startedAt === 'string'
      ? (holder as LockHolder)
      : null;
  } catch {
    return null;
  }
}

/**
 * Whether the holder may still be running. Not if its lock has gone untouched past LOCK_STALE_MS. A process on
 * another host cannot be asked, so its heartbeat is all there is. Here, signal 0 asks the kernel whether the pid
 * exists; this process's own pid is stale unless this process holds the lock (a restarted container often gets the
 * pid its predecessor had).
 */
function isAlive(holder: LockHolder, lockPath: string): boolean {
  if (ageMs(lockPath) > LOCK_STALE_MS) return false;
  if (holder.host !== hostname()) return true;
  if (holder.pid === process.pid) return heldHere.has(lockPath);
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return codeOf(error) === 'EPERM'; // exists, but belongs to another user
  }
}

async function removeStale(lockPath: string, staleContent: string): Promise<void> {
  const takeover = `${lockPath}.takeover`;
  try {
    mkdirSync(takeover);
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') throw error;
    if (ageMs(takeover) > TAKEOVER_ABANDONED_MS) rmSync(takeover, { recursive: true, force: true });
    else await sleep(20); // another process is taking over; then the lock is its own, or gone
    return;
  }
  try {
    if (readLock(lockPath) === staleContent) unlinkSync(lockPath);
  } finally {
    rmdirSync(takeover);
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function codeOf(error: unknown): string | undefined {
  return error instanceof Error && 'code' in error ? String(error.code) : undefined;
}
