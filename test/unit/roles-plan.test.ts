// Which processes an instance runs, and how long the primary waits before starting a dead worker again.
import { describe, expect, it } from 'vitest';
import { configWith } from '../../src/config.js';
import {
  restartWait,
  reusesPort,
  servingProcesses,
  workerArgs,
  workerExecArgv,
  workerRoleOf,
} from '../../src/roles/plan.js';

const DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/jackdaw';
const REDIS_URL = 'redis://127.0.0.1:6379';

describe('servingProcesses', () => {
  it('should run one serving process per CPU with Redis and Postgres', () => {
    expect(servingProcesses(configWith({ DATABASE_URL, REDIS_URL }), 8)).toBe(8);
  });

  it('should run WEB_CONCURRENCY serving processes when it is set', () => {
    expect(servingProcesses(configWith({ DATABASE_URL, REDIS_URL, WEB_CONCURRENCY: 3 }), 8)).toBe(3);
  });

  it('should run one process for everything with WEB_CONCURRENCY=0, without Redis, or without Postgres', () => {
    expect(servingProcesses(configWith({ DATABASE_URL, REDIS_URL, WEB_CONCURRENCY: 0 }), 8)).toBeNull();
    expect(servingProcesses(configWith({ DATABASE_URL, WEB_CONCURRENCY: 4 }), 8)).toBeNull();
    expect(servingProcesses(configWith({ REDIS_URL, WEB_CONCURRENCY: 4 }), 8)).toBeNull();
    expect(servingProcesses(configWith({}), 8)).toBeNull();
  });
});

describe('worker roles', () => {
  it('should read back the role a worker was forked with', () => {
    for (const role of ['serve', 'process'] as const)
      expect(workerRoleOf(['node', 'src/main.ts', ...workerArgs(role)])).toBe(role);
  });

  it('should refuse a worker without a known role', () => {
    expect(() => workerRoleOf(['node', 'src/main.ts'])).toThrow(/--role=serve or --role=process/);
    expect(() => workerRoleOf(['node', 'src/main.ts', '--role=primary'])).toThrow(/got primary/);
  });
});

describe('restartWait', () => {
  const backoff = { baseMs: 500, maxMs: 30_000 };

  it('should wait the base after a first death and double with each death in a row', () => {
    expect([1, 2, 3, 4].map((deaths) => restartWait(deaths, backoff))).toEqual([500, 1_000, 2_000, 4_000]);
  });

  it('should never wait longer than the most', () => {
    expect(restartWait(7, backoff)).toBe(30_000);
    expect(restartWait(10_000, backoff)).toBe(30_000);
    expect(restartWait(10_000, { baseMs: 0, maxMs: 30_000 })).toBe(0);
  });
});

describe('reusesPort', () => {
  const config = (PORT: number, SERVING_REUSE_PORT = true) => ({ PORT, SERVING_REUSE_PORT });

  it('should listen with SO_REUSEPORT on Linux from Node 22.12 and 23.1, on a port chosen in advance', () => {
    for (const node of ['22.12.0', '22.22.1', '23.1.0', '24.22.3', '25.0.0'])
      expect(reusesPort(config(4000), node, 'linux'), node).toBe(true);
  });

  it('should leave the primary to hand connections out on older Node, elsewhere than Linux, on port 0, or when off', () => {
    for (const node of ['20.20.2', '22.11.0', '23.0.0', '21.7.3'])
      expect(reusesPort(config(4000), node, 'linux'), node).toBe(false);
    expect(reusesPort(config(4000), '24.22.3', 'darwin')).toBe(false);
    expect(reusesPort(config(0), '24.22.3', 'linux')).toBe(false);
    expect(reusesPort(config(4000, false), '24.22.3', 'linux')).toBe(false);
  });
});

describe('workerExecArgv', () => {
  const GiB = 1024 ** 3;
  const unset = { WORKER_SEMI_SPACE_MB: undefined };
  const set = (WORKER_SEMI_SPACE_MB: number) => ({ WORKER_SEMI_SPACE_MB });
  const on = (heapLimit: number, nodeOptions = '', execArgv = ['--enable-source-maps']) => ({
    execArgv,
    nodeOptions,
    heapLimit,
  });

  it("should keep the primary's node options and cap the semi-space at 16 MB where V8 would choose more", () => {
    expect(workerExecArgv(unset, on(4.2 * GiB))).toEqual(['--enable-source-maps', '--max-semi-space-size=16']);
    expect(workerExecArgv(configWith({}), on(2.1 * GiB, '', []))).toEqual(['--max-semi-space-size=16']);
  });

  it('should leave a small heap limit to V8, whose semi-spaces are smaller there', () => {
    for (const heapLimit of [0.5 * GiB, 2 * GiB, 2 * GiB + 48 * 1024 ** 2])
      expect(workerExecArgv(unset, on(heapLimit)), String(heapLimit)).toEqual(['--enable-source-maps']);
  });

  it('should set the semi-space WORKER_SEMI_SPACE_MB asks for, on any heap limit, and none at 0', () => {
    expect(workerExecArgv(set(8), on(0.5 * GiB))).toEqual(['--enable-source-maps', '--max-semi-space-size=8']);
    expect(workerExecArgv(set(0), on(16 * GiB))).toEqual(['--enable-source-maps']);
  });

  it('should leave the semi-space to the operator who chose one in NODE_OPTIONS or the arguments', () => {
    for (const [nodeOptions, execArgv] of [
      ['', ['--max-semi-space-size=64']],
      ['', ['--max_semi_space_size', '8']],
      ['', ['--min-semi-space-size=32']],
      ['--enable-source-maps  --max-semi-space-size=32', []],
      ['--max_semi_space_size=4', []],
      ['"--max-semi-space-size=32"', []],
    ] as [string, string[]][])
      expect(workerExecArgv(set(16), on(4 * GiB, nodeOptions, execArgv)), nodeOptions || execArgv.join(' ')).toEqual(
        execArgv,
      );
  });

  it("should read the primary's own options and heap limit when given none", () => {
    const args = workerExecArgv(set(16));
    expect(args.slice(0, process.execArgv.length)).toEqual(process.execArgv);
  });
});
