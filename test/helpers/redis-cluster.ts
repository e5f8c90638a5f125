// A local Redis Cluster for tests and benchmarks: `masters` redis-server processes in cluster mode on spare ports, in
// a temporary folder of their own, their slots split evenly and joined with CLUSTER MEET (no redis-cli, no Docker:
// only the redis-server binary CI installs). `stop()` ends the processes and removes the folder.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface ClusterNode {
  host: string;
  port: number;
}

export interface LocalRedisCluster {
  nodes: ClusterNode[];
  /** The nodes as REDIS_CLUSTER_NODES takes them: `host:port,host:port,…`. */
  nodesSetting: string;
  /** Kills every node with SIGKILL (their data is lost: nothing is saved), as a crash of the whole cluster. */
  kill(): Promise<void>;
  /** Starts the killed nodes again, empty, on their ports and with their cluster configuration; resolves once the
   *  cluster is ready again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalRedisClusterOptions {
  masters?: number;
  /** How long a node may be unreachable before the others take it for failed. */
  nodeTimeoutMs?: number;
  /** How long the cluster may take to start and agree on its slots. */
  readyTimeoutMs?: number;
}

const HOST = '127.0.0.1';
const SLOTS = 16_384;
// A spare port can be taken by another process between the probe and redis-server's bind: then try other ports.
const START_ATTEMPTS = 5;

export async function startRedisCluster({
  masters = 3,
  nodeTimeoutMs = 5_000,
  readyTimeoutMs = 30_000,
}: LocalRedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'jackdaw-redis-cluster-'));
  const processes: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((child) => endProcess(child)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const nodes: (ClusterNode & { busPort: number })[] = [];
    for (let i = 0; i < masters; i++) {
      const started = await startNode(dir, i, nodeTimeoutMs);
      processes.push(started.process);
      nodes.push(started.node);
    }
    await formCluster(nodes, readyTimeoutMs);
    const plain = nodes.map(({ host, port }) => ({ host, port }));
    return {
      nodes: plain,
      nodesSetting: plain.map((n) => `${n.host}:${n.port}`).join(','),
      async kill() {
        await Promise.all(processes.map((child) => endProcess(child, 'SIGKILL')));
      },
      async restart() {
        for (const [i, node] of nodes.entries()) {
          const child = spawn('redis-server', nodeArguments(dir, i, node.port, node.busPort, nodeTimeoutMs), {
            stdio: 'ignore',
          });
          processes[i] = child;
          await untilAnswers(child, node.port);
        }
        await untilClusterReady(nodes, readyTimeoutMs);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startNode(dir: string, index: number, nodeTimeoutMs: number) {
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const [port, busPort] = await sparePorts(2);
    // biome-ignore lint/style/noNonNullAssertion: sparePorts(2) returns two ports
    const args = nodeArguments(dir, index, port!, busPort!, nodeTimeoutMs);
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    try {
      // biome-ignore lint/style/noNonNullAssertion: as above
      await untilAnswers(child, port!);
      // biome-ignore lint/style/noNonNullAssertion: as above
      return { process: child, node: { host: HOST, port: port!, busPort: busPort! } };
    } catch (error) {
      await endProcess(child);
      lastError = new Error(`redis-server on port ${port} did not start: ${(error as Error).message} ${stderr}`);
    }
  }
  throw lastError;
}

function nodeArguments(dir: string, index: number, port: number, busPort: number, nodeTimeoutMs: number): string[] {
  return [
    '--bind',
    HOST,
    '--port',
    String(port),
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    path.join(dir, `nodes-${index}.conf`),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    '--dir',
    dir,
    '--dbfilename',
    `dump-${index}.rdb`,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    path.join(dir, `node-${index}.log`),
  ];
}

/** Ports nobody listens on now, held open together so the `count` of them differ. */
async function sparePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, HOST);
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Resolves once the node answers PING; rejects if its process exits first. */
async function untilAnswers(child: ChildProcess, port: number): Promise<void> {
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`exited with code ${code}`);
  });
  const answered = (async () => {
    const deadline = Date.now() + 10_000;
    while (child.exitCode === null) {
      const probe = new Redis({
        host: HOST,
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error('no answer to PING within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        probe.disconnect();
      }
    }
  })();
  await Promise.race([answered, exited]);
  exited.catch(() => {}); // the process ends later, at stop(): not a failure then
}

async function formCluster(nodes: (ClusterNode & { busPort: number })[], readyTimeoutMs: number): Promise<void> {
  const clients = nodes.map(({ host, port }) => new Redis({ host, port, maxRetriesPerRequest: 1 }));
  try {
    const share = Math.ceil(SLOTS / nodes.length);
    await Promise.all(
      clients.map((client, i) =>
        client.call('CLUSTER', 'ADDSLOTSRANGE', String(i * share), String(Math.min(SLOTS, (i + 1) * share) - 1)),
      ),
    );
    const [first] = clients;
    // biome-ignore lint/style/noNonNullAssertion: a cluster has at least one node
    for (const node of nodes.slice(1)) await first!.call('CLUSTER', 'MEET', node.host, node.port, node.busPort);
  } finally {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
  await untilClusterReady(nodes, readyTimeoutMs);
}

/** Resolves once every node reports the cluster ok and knows all the others. */
async function untilClusterReady(nodes: ClusterNode[], readyTimeoutMs: number): Promise<void> {
  const clients = nodes.map(({ host, port }) => new Redis({ host, port, maxRetriesPerRequest: 1 }));
  try {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.call('CLUSTER', 'INFO') as Promise<string>));
      const ready = infos.every(
        (info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${nodes.length}\r`),
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`the cluster did not become ready: ${infos.join(' | ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}

async function endProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}
