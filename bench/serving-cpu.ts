// npx tsx bench/serving-cpu.ts — CPU of the serving processes (and of the processing one) per 1,000 events under
// sustained publishEvents (4 publishers of 1,000-event batches), from /proc (utime + stime) over windows of the
// sustained phase alone, on a fresh bench server per run. For A/B comparisons of the serving path, run it on each
// build back to back. Prints; writes nothing to BENCHMARKS.md.
import { readdirSync, readFileSync } from 'node:fs';
import { type BenchServer, graphql, PUBLISH_MANY, type PublishManyData, startBenchServer } from './server.js';

const RUNS = Number(process.env.BENCH_CPU_RUNS ?? 2); // servers started one after the other
const WINDOWS = Number(process.env.BENCH_CPU_WINDOWS ?? 2); // measured windows per server, after a 3 s warm-up
const SECONDS = Number(process.env.BENCH_CPU_SECONDS ?? 15);
const PUBLISHERS = 4;
const BATCH = 1_000;
const TICK_MS = 10; // USER_HZ is 100 on Linux

const perfEvent = (i: number) => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: `bench_metric_${i % 10}`, value: i % 997 },
});

/** The fields of /proc/<pid>/stat after the command name. */
function stat(pid: number | string): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

const cpuMs = (pid: number) => {
  const fields = stat(pid);
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
};

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(stat(entry)[1]) === pid) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function publishFor(server: BenchServer, seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1_000;
  let n = 0;
  let acknowledged = 0;
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      while (performance.now() < deadline) {
        const inputs = Array.from({ length: BATCH }, () => perfEvent(n++));
        acknowledged += (await graphql<PublishManyData>(server, PUBLISH_MANY, { inputs })).publishEvents.ids.length;
      }
    }),
  );
  return acknowledged;
}

for (let run = 0; run < RUNS; run++) {
  const server = await startBenchServer();
  try {
    const processing = Number((await server.health()).checks.streamProcessor?.detail?.pid);
    const serving = childrenOf(server.pid).filter((pid) => pid !== processing);
    await publishFor(server, 3);
    for (let window = 0; window < WINDOWS; window++) {
      const servingBefore = serving.map(cpuMs);
      const processingBefore = cpuMs(processing);
      const started = performance.now();
      const acknowledged = await publishFor(server, SECONDS);
      const elapsed = (performance.now() - started) / 1_000;
      const servingMs = serving.reduce((sum, pid, i) => sum + cpuMs(pid) - (servingBefore[i] ?? 0), 0);
      const per1k = (ms: number) => ((ms / acknowledged) * 1_000).toFixed(2);
      console.log(
        `run ${run} window ${window}: ${Math.round(acknowledged / elapsed)} events/s; per 1,000 events: serving ` +
          `${per1k(servingMs)} ms (${serving.length} processes), processing ${per1k(cpuMs(processing) - processingBefore)} ms; ` +
          `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`,
      );
    }
  } finally {
    await server.stop();
  }
}
