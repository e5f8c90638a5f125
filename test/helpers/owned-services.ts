// Services a test owns outright, so it can stop and restart them to cause real faults: a private redis-server and a
// private Postgres cluster (initdb + pg_ctl in a temp dir), each on a free port. Never the shared ones.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { eventually } from './app.js';
import { freePort } from './ports.js';

const run = promisify(execFile);
const PG_BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const MIGRATIONS_DIR = path.resolve('prisma/migrations');

export interface OwnedService {
  url: string;
  /** Stops the service abruptly (a crash, not a clean shutdown). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops it and removes everything it left behind. */
  remove(): Promise<void>;
}

/** A redis-server without persistence: after a restart it is empty, as a real crashed cache would be. */
export async function startOwnedRedis(): Promise<OwnedService> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;

  async function start() {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    // Polled: only a client that connects can tell that redis-server accepts connections.
    await eventually(async () => {
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    });
  }

  async function stop() {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL');
    await exited;
  }

  await start();
  return { url, start, stop, remove: stop };
}

export interface OwnedPostgres extends OwnedService {
  /** The cluster's log, for tests that look at what it was sent. */
  dataDir: string;
}

/**
 * A Postgres cluster of its own (trust auth), with the app's migrations applied to database `jackdaw`. initdb and
 * the server refuse to run as root, so as root they run as the `postgres` user.
 */
export async function startOwnedPostgres(): Promise<OwnedPostgres> {
  const port = await freePort();
  const root = mkdtempSync(path.join(tmpdir(), 'jackdaw-pg-'));
  const dataDir = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(root, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgCommand = (binary: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, binary), ...args])
      : run(path.join(PG_BIN, binary), args);

  await pgCommand('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = async () => {
    await pgCommand('pg_ctl', ['-D', dataDir, '-o', options, '-l', path.join(root, 'log'), '-w', 'start']);
  };
  // Immediate mode: the server quits without a checkpoint and drops every connection, as in a crash.
  const stop = async () => {
    await pgCommand('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => {});
  };
  await start();

  const adminUrl = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('CREATE DATABASE jackdaw');
  await admin.end();
  const url = `postgresql://postgres@127.0.0.1:${port}/jackdaw`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  for (const name of readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()) {
    await client.query(readFileSync(path.join(MIGRATIONS_DIR, name, 'migration.sql'), 'utf8'));
  }
  await client.end();

  return {
    url,
    dataDir: root,
    start,
    stop,
    async remove() {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
