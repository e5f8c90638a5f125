// Shared by the benchmarks: how the machine is described, and how each benchmark replaces its own section of
// BENCHMARKS.md (up to the next `## ` heading) without touching the others.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Redis } from 'ioredis';

const BENCHMARKS_FILE = new URL('../BENCHMARKS.md', import.meta.url);

export const integer = (n: number) => Math.round(n).toLocaleString('en-US');
export const ms = (n: number) => `${n.toFixed(1)} ms`;

export async function machineDescription(redis: Redis): Promise<string> {
  const info = await redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  const cpus = os.cpus();
  // The load average tells whether other work shared the machine (and Redis) during the run.
  const load = os.loadavg()[0]?.toFixed(2);
  return `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, Redis ${redisVersion} (local, loopback); load average ${load} at start`;
}

/** The q-quantile of `values` by nearest rank (values need not be sorted). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export function writeSection(heading: string, section: string): void {
  const current = existsSync(BENCHMARKS_FILE) ? readFileSync(BENCHMARKS_FILE, 'utf8') : '# Benchmarks\n\n';
  const start = current.indexOf(heading);
  if (start === -1) {
    writeFileSync(BENCHMARKS_FILE, `${current.trimEnd()}\n\n${section}`);
    return;
  }
  const nextHeading = current.indexOf('\n## ', start + heading.length);
  const rest = nextHeading === -1 ? '' : `\n${current.slice(nextHeading + 1)}`;
  writeFileSync(BENCHMARKS_FILE, `${current.slice(0, start)}${section}${rest}`);
}
