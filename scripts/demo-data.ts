// What `npm run demo` publishes and the alert rules it sets up. Pure: the time into the run and a random source in,
// events out. The run follows a two-minute story that repeats: steady traffic, an API latency spike (15–40 s), a wave
// of failing benchmarks (40–60 s) and a burst of anomalies (70–85 s), each long enough to fire its rule over the
// one-minute windows and, for the first two, short enough to resolve within the cycle.

export const CYCLE_SECONDS = 120;

export const COMPETITORS = ['Northwind', 'Contoso', 'Globex', 'Initech', 'Umbrella'] as const;
const BENCHMARKS = ['checkout-flow', 'search', 'login', 'cold-start'] as const;
const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;
const INSIGHTS = [
  'shipped a redesigned onboarding flow',
  'cut prices on the entry plan',
  'is hiring for a new data team',
  'changed its rate limits for free users',
  'published a status incident for its API',
] as const;

type EventType =
  | 'PERFORMANCE_METRIC'
  | 'BENCHMARK_COMPLETED'
  | 'COMPETITIVE_UPDATE'
  | 'ANOMALY_DETECTED'
  | 'INSIGHT_GENERATED';

export interface DemoEvent {
  type: EventType;
  data: Record<string, unknown>;
}

export interface DemoRule {
  name: string;
  severity: 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
  forSeconds: number;
  conditions: {
    metric: string;
    aggregation: 'AVG' | 'SUM';
    window: 'M1';
    operator: 'GT' | 'LT' | 'GTE';
    threshold: number;
  }[];
}

const LATENCY_SPIKE = { from: 15, to: 40 };
const BENCHMARK_FAILURES = { from: 40, to: 60 };
const ANOMALY_BURST = { from: 70, to: 85 };

export const NORMAL_LATENCY_MS = 180;
export const SPIKE_LATENCY_MS = 900;
export const NORMAL_SUCCESS_RATE = 0.95;
export const FAILING_SUCCESS_RATE = 0.15;

export const DEMO_RULES: DemoRule[] = [
  {
    name: 'demo: API latency high',
    severity: 'HIGH',
    forSeconds: 0,
    conditions: [{ metric: 'api_response_time', aggregation: 'AVG', window: 'M1', operator: 'GT', threshold: 400 }],
  },
  {
    name: 'demo: benchmarks failing',
    severity: 'MEDIUM',
    forSeconds: 0,
    // Not on the first few benchmarks of a run, where one failure in four would do.
    conditions: [
      { metric: 'benchmark_success', aggregation: 'AVG', window: 'M1', operator: 'LT', threshold: 0.8 },
      { metric: 'benchmark_total', aggregation: 'SUM', window: 'M1', operator: 'GTE', threshold: 30 },
    ],
  },
  {
    name: 'demo: anomaly burst',
    severity: 'CRITICAL',
    forSeconds: 0,
    conditions: [{ metric: 'anomaly_count', aggregation: 'SUM', window: 'M1', operator: 'GTE', threshold: 20 }],
  },
];

const within = (second: number, span: { from: number; to: number }) => second >= span.from && second < span.to;

/** Events per second at this point of the run: the average rate, swinging ±40 % over a minute. */
export function rateAt(elapsedSeconds: number, averagePerSecond: number): number {
  return averagePerSecond * (1 + 0.4 * Math.sin((2 * Math.PI * elapsedSeconds) / 60));
}

/** One event of every type, so every tile and list has something from the first second. */
export function firstEvents(random: () => number): DemoEvent[] {
  return [
    performanceMetric(0, random),
    benchmark(0, random),
    competitiveUpdate(random),
    anomaly(random),
    insight(random),
  ];
}

/** `count` events as they would happen `elapsedSeconds` into the run. */
export function eventsAt(elapsedSeconds: number, count: number, random: () => number): DemoEvent[] {
  const second = elapsedSeconds % CYCLE_SECONDS;
  const anomalyShare = within(second, ANOMALY_BURST) ? 0.25 : 0.002;
  const events: DemoEvent[] = [];
  for (let i = 0; i < count; i++) {
    const roll = random();
    if (roll < anomalyShare) events.push(anomaly(random));
    else if (roll < 0.55) events.push(performanceMetric(second, random));
    else if (roll < 0.8) events.push(benchmark(second, random));
    else if (roll < 0.96) events.push(competitiveUpdate(random));
    else events.push(insight(random));
  }
  return events;
}

function pick<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Roughly normal around `mean` (the sum of three uniforms), never below 1. */
function around(mean: number, spread: number, random: () => number): number {
  return Math.max(1, Math.round(mean + spread * (random() + random() + random() - 1.5)));
}

function performanceMetric(second: number, random: () => number): DemoEvent {
  const mean = within(second, LATENCY_SPIKE) ? SPIKE_LATENCY_MS : NORMAL_LATENCY_MS;
  return {
    type: 'PERFORMANCE_METRIC',
    data: {
      metric_name: 'api_response_time',
      value: around(mean, mean * 0.4, random),
      competitor: pick(COMPETITORS, random),
      region: pick(REGIONS, random),
    },
  };
}

function benchmark(second: number, random: () => number): DemoEvent {
  const successRate = within(second, BENCHMARK_FAILURES) ? FAILING_SUCCESS_RATE : NORMAL_SUCCESS_RATE;
  const success = random() < successRate;
  return {
    type: 'BENCHMARK_COMPLETED',
    data: {
      competitor: pick(COMPETITORS, random),
      benchmark: pick(BENCHMARKS, random),
      success,
      metrics: { duration_ms: around(success ? 1_200 : 4_500, 800, random), throughput_rps: around(350, 200, random) },
    },
  };
}

function competitiveUpdate(random: () => number): DemoEvent {
  return {
    type: 'COMPETITIVE_UPDATE',
    data: {
      competitor: pick(COMPETITORS, random),
      metrics: {
        competitive_parity: Math.round((0.8 + 0.35 * random()) * 1000) / 1000,
        price_index: around(100, 20, random),
      },
    },
  };
}

function anomaly(random: () => number): DemoEvent {
  return {
    type: 'ANOMALY_DETECTED',
    data: {
      competitor: pick(COMPETITORS, random),
      metric: 'api_response_time',
      description: 'response time far outside its usual band',
      score: Math.round((3 + 4 * random()) * 100) / 100,
    },
  };
}

function insight(random: () => number): DemoEvent {
  const competitor = pick(COMPETITORS, random);
  return {
    type: 'INSIGHT_GENERATED',
    data: {
      competitor,
      summary: `${competitor} ${pick(INSIGHTS, random)}`,
      confidence: Math.round(random() * 100) / 100,
    },
  };
}
