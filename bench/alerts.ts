// npm run bench:alerts — alert latency: event published → `alertTriggered` received over graphql-ws, at 1,000 and
// 10,000 background events/s, on a real server process with Postgres and Redis. Writes its section of BENCHMARKS.md.
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { integer, machineDescription, ms, quantile, writeSection } from './report.js';
import { type BenchServer, backgroundLoad, graphql, PUBLISH_MANY, REDIS_URL, startBenchServer } from './server.js';

const HEADING = '## Alert latency (npm run bench:alerts)';
const RATES = [1_000, 10_000];
const TRIGGERS_PER_RATE = 40;
const TRIGGER_INTERVAL_MS = 250;
/** Rules in all: besides the trigger rules, rules on the background metrics that are evaluated at every change. */
const TOTAL_RULES = 1_000;
const WINDOWS = ['M1', 'M5', 'M15', 'H1', 'H6', 'H24'] as const;
const AGGREGATIONS = ['COUNT', 'SUM', 'AVG', 'MIN', 'MAX', 'P50', 'P95', 'P99', 'STDDEV'] as const;

const loadEvent = (i: number) => ({
  type: 'PERFORMANCE_METRIC',
  data: { metric_name: `load_${i % 10}`, value: i % 997 },
});

/** Rules over the background load that never fire (a threshold no value reaches), in every window and aggregation. */
async function createQuietRules(server: BenchServer, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await graphql(server, `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }`, {
      input: {
        name: `bench quiet ${i}`,
        severity: 'LOW',
        conditions: [
          {
            metric: `load_${i % 10}`,
            window: WINDOWS[i % WINDOWS.length],
            aggregation: AGGREGATIONS[i % AGGREGATIONS.length],
            operator: 'GT',
            threshold: 1e12,
          },
        ],
      },
    });
  }
}

async function createRules(server: BenchServer, names: string[]): Promise<Map<string, string>> {
  const ruleIdByMetric = new Map<string, string>();
  for (const metric of names) {
    const { createAlertRule } = await graphql<{ createAlertRule: { id: string } }>(
      server,
      `mutation($input: AlertRuleInput!) { createAlertRule(input: $input) { id } }`,
      {
        input: {
          name: `bench ${metric}`,
          severity: 'LOW',
          conditions: [{ metric, window: 'M1', aggregation: 'MAX', operator: 'GT', threshold: 0 }],
        },
      },
    );
    ruleIdByMetric.set(metric, createAlertRule.id);
  }
  return ruleIdByMetric;
}

async function measure(
  server: BenchServer,
  client: Client,
  rate: number,
  metrics: string[],
  ruleIds: Map<string, string>,
) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const dispose = client.subscribe(
    { query: `subscription { alertTriggered { ruleId } }` },
    {
      next: ({ data }) => {
        const ruleId = (data as { alertTriggered: { ruleId: string } }).alertTriggered.ruleId;
        const sent = sentAt.get(ruleId);
        if (sent !== undefined) latencies.push(performance.now() - sent);
      },
      error: () => {},
      complete: () => {},
    },
  );
  const controller = new AbortController();
  const load = backgroundLoad(server, rate, controller.signal, loadEvent);
  await new Promise((resolve) => setTimeout(resolve, 1_500)); // the load settles, the subscription is live
  for (const metric of metrics) {
    sentAt.set(ruleIds.get(metric) as string, performance.now());
    await graphql(server, PUBLISH_MANY, {
      inputs: [{ type: 'PERFORMANCE_METRIC', data: { metric_name: metric, value: 1 } }],
    });
    await new Promise((resolve) => setTimeout(resolve, TRIGGER_INTERVAL_MS));
  }
  const deadline = performance.now() + 15_000;
  while (latencies.length < metrics.length && performance.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort();
  const { acknowledged, failed } = await load;
  dispose();
  return {
    rate,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    received: latencies.length,
    acknowledged,
    failed,
  };
}

async function main(): Promise<void> {
  const redis = new Redis(REDIS_URL);
  const machine = await machineDescription(redis);
  await redis.quit();
  const server = await startBenchServer();
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${server.adminKey}` },
    retryAttempts: 0,
  });
  try {
    const metricsByRate = RATES.map((rate) =>
      Array.from({ length: TRIGGERS_PER_RATE }, (_, i) => `trigger_${rate}_${i}`),
    );
    const ruleIds = await createRules(server, metricsByRate.flat());
    await createQuietRules(server, TOTAL_RULES - ruleIds.size);
    const results = [];
    for (const [index, rate] of RATES.entries()) {
      console.log(`alert latency at ${rate}/s…`);
      results.push(await measure(server, client, rate, metricsByRate[index] as string[], ruleIds));
    }
    const section = [
      HEADING,
      '',
      `Run ${new Date().toISOString()} on ${machine}. One server instance (Postgres and Redis mode: a primary, one processing ` +
        `process and one serving process per core) and the load generator in another process on the same 2 cores. ${integer(TOTAL_RULES)} rules: ${TRIGGERS_PER_RATE} per rate, each \`MAX(trigger_n) over M1 > 0\` on a metric of its own, and the rest on the ten background metrics (every window and aggregation, never firing), so each background batch, which changes all ten, has ${integer(TOTAL_RULES - TRIGGERS_PER_RATE * RATES.length)} rules to evaluate; ` +
        `while background events run at the rate shown, one trigger event every ${TRIGGER_INTERVAL_MS} ms fires one rule. Latency is ` +
        'from the publish call to the alert arriving at a graphql-ws subscriber (commit, stream processor, aggregation, rule ' +
        'evaluation, alert stored, bus, delivery).',
      '',
      '| background load | alerts received | p50 | p99 | background events acknowledged | target |',
      '| ---: | ---: | ---: | ---: | ---: | --- |',
      ...results.map(
        (r) =>
          `| ${integer(r.rate)} events/s | ${r.received}/${TRIGGERS_PER_RATE} | ${ms(r.p50)} | ${ms(r.p99)} | ${integer(r.acknowledged)} (${integer(r.failed)} refused) | p99 < 1 s (seed: 5 s) |`,
      ),
      '',
    ].join('\n');
    console.log(section);
    writeSection(HEADING, section);
  } finally {
    await client.dispose();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
