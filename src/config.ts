// The only reader of process.env: every setting is parsed and validated once, with its default beside it.
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number) => z.coerce.number().int().min(min);

const schema = z.object({
  PORT: int(0).default(4000),
  HOST: z.string().default('0.0.0.0'),
  /** Postgres; when unset the server runs on embedded PGlite in DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Redis for the cross-instance bus and the shared aggregates; when unset, in-process. */
  REDIS_URL: z.string().url().optional(),
  /** Prefix of every Redis key and channel, so several deployments (or test files) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default('jackdaw:'),
  /** Where the embedded database keeps its files. */
  DATA_DIR: z.string().default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  /** The first admin key; when unset, one is generated at first start and printed once. */
  ADMIN_API_KEY: z.string().min(16).optional(),

  /** Largest `publishEvents` batch. */
  MAX_BATCH_SIZE: int(1).default(1_000),
  /** How far ahead of the server clock an event timestamp may be. */
  MAX_FUTURE_SKEW_MS: int(0).default(5 * 60_000),
  /** Largest JSON `data` of one event, in bytes. */
  MAX_EVENT_BYTES: int(2).default(64 * 1024),
  /** Largest `first` of a history page. */
  MAX_PAGE_SIZE: int(1).default(500),
  /** Messages a subscription may have waiting for a slow client before it is ended with OVERLOADED. */
  SUBSCRIPTION_BUFFER: int(1).default(1_000),
  /** Events the stream processor takes from the outbox at a time. */
  PROCESSOR_BATCH_SIZE: int(1).default(5_000),
  /** How often the stream processor looks at the outbox when nobody nudged it. */
  PROCESSOR_POLL_MS: int(5).default(250),
  /** Lifetime of the stream processor's lease; renewed at a third of it. */
  PROCESSOR_LEASE_MS: int(500).default(5_000),

  DASHBOARD_INTERVAL_MS: int(50).default(5_000),
  /** Least time between two `metricUpdated` messages of one subscription. */
  METRIC_UPDATE_MIN_INTERVAL_MS: int(0).default(250),

  /** Time given to in-flight work on stop before sockets are closed anyway. */
  SHUTDOWN_GRACE_MS: int(0).default(10_000),
});

export type Config = z.infer<typeof schema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/** Configuration for code that builds an app without an environment (tests, benchmarks). */
export function configWith(overrides: Partial<Record<keyof Config, string | number>>): Config {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) env[key] = String(value);
  return loadConfig(env);
}
