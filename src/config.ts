// The only reader of process.env: every setting is parsed and validated once, with its default beside it.
import { z } from 'zod';
import { parseTrustedProxies } from './security/client-address.js';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number) => z.coerce.number().int().min(min);

const schema = z.object({
  /** `production` switches off by default what helps developers and strangers alike: introspection, GraphiQL,
   *  cross-origin access, and /metrics and /health details without METRICS_TOKEN. */
  NODE_ENV: z.string().optional(),
  PORT: int(0).default(4000),
  HOST: z.string().default('0.0.0.0'),
  /** Postgres; when unset the server runs on embedded PGlite in DATA_DIR. */
  DATABASE_URL: z.string().url().optional(),
  /** Redis for the cross-instance bus and the shared aggregates; when unset, in-process. */
  REDIS_URL: z.string().url().optional(),
  /**
   * A Redis Cluster instead of one Redis (src/redis.ts): comma-separated `host:port` seed nodes (any of its masters;
   * the rest are discovered). Pub/sub then uses sharded channels (Redis 7). Set this or REDIS_URL, not both.
   */
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === '') return undefined;
      const { nodes, invalid } = parseClusterNodes(text);
      if (invalid.length > 0) ctx.addIssue({ code: 'custom', message: `not a host:port: ${invalid.join(', ')}` });
      return nodes;
    }),
  /** Prefix of every Redis key and channel, so several deployments (or test files) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default('jackdaw:'),
  /** Where the embedded database keeps its files. */
  DATA_DIR: z.string().default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `pretty` (readable lines) or `json`; unset: pretty when stdout is a terminal outside production, else JSON. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),

  /** The first admin key; when unset, one is generated at first start and printed once. */
  ADMIN_API_KEY: z.string().min(16).optional(),
  /** Authenticated API keys each instance remembers (by hash), least recently used out first, so a request or a
   *  connection_init does not cost a database look-up each time; 0 switches the cache off. 10,000 keys is a few MB. */
  API_KEY_CACHE_SIZE: int(0).default(10_000),
  /** How long a remembered key is trusted before the database is asked again: the longest a key revoked without
   *  a revocation message (straight in the database, or while the bus was down) still works over HTTP. */
  API_KEY_CACHE_TTL_MS: int(0).default(60_000),
  /** Unknown or revoked keys each instance remembers, apart from the good ones so a flood of made-up keys cannot push
   *  those out: a client retrying with a bad key costs one look-up per API_KEY_NEGATIVE_CACHE_TTL_MS. */
  API_KEY_NEGATIVE_CACHE_SIZE: int(0).default(1_000),
  /** How long an unknown key is refused without asking again; short, as ADMIN_API_KEY is registered at start. */
  API_KEY_NEGATIVE_CACHE_TTL_MS: int(0).default(5_000),

  // Browser tokens (src/auth/tokens.ts): JWTs a frontend's backend issues; none accepted unless a key is set.
  /** HS256 secret shared with the token issuer; unset: no HS256 tokens. At least 32 bytes (RFC 7518: a key as
   *  long as the hash), so it cannot be guessed offline from one token. */
  JWT_SECRET: z.string().min(32).optional(),
  /** A JWKS URL whose keys sign RS256/ES256 tokens (fetched at first use and when a token names an unknown key). */
  JWT_JWKS_URL: z.string().url().optional(),
  /** A JWKS file whose keys sign RS256/ES256 tokens, read at start. */
  JWT_JWKS_FILE: z.string().min(1).optional(),
  /** The `iss` every token must carry; unset: not checked. */
  JWT_ISSUER: z.string().min(1).optional(),
  /** The `aud` every token must include; unset: not checked. */
  JWT_AUDIENCE: z.string().min(1).optional(),
  /** The claim holding VIEWER, PUBLISHER or ADMIN. */
  JWT_ROLE_CLAIM: z.string().min(1).default('role'),
  /** The highest role a token may carry: browsers hold tokens, so by default they only watch. */
  JWT_MAX_ROLE: z.enum(['VIEWER', 'PUBLISHER', 'ADMIN']).default('VIEWER'),
  /** Longest a token may still run when presented: tokens cannot be revoked, so they must be short-lived. At
   *  most 24 h. */
  JWT_MAX_LIFETIME_S: int(1)
    .max(24 * 60 * 60)
    .default(60 * 60),
  /** Clock difference tolerated between the issuer and this server for `exp`, `nbf` and `iat`. At most 5 min. */
  JWT_CLOCK_SKEW_S: int(0).max(300).default(30),
  /** Largest token accepted: a real one is well under 2 KB; bigger costs parsing for nothing. */
  JWT_MAX_BYTES: int(256).default(8 * 1024),
  /** How long a JWKS URL fetch may take before the token is answered UNAVAILABLE. */
  JWT_JWKS_TIMEOUT_MS: int(100).default(5_000),
  /** Least time between two JWKS URL fetches for tokens naming a key the set lacks. */
  JWT_JWKS_COOLDOWN_MS: int(0).default(30_000),

  /** Largest `publishEvents` batch. */
  MAX_BATCH_SIZE: int(1).default(1_000),
  /** How far ahead of the server clock an event timestamp may be. */
  MAX_FUTURE_SKEW_MS: int(0).default(5 * 60_000),
  /** Largest JSON `data` of one event, in bytes. */
  MAX_EVENT_BYTES: int(2).default(64 * 1024),
  /** Largest `first` of a history page. */
  MAX_PAGE_SIZE: int(1).default(500),
  /** Items a subscription may have waiting for a slow client before it is ended with OVERLOADED (bursts of whole
   *  processor batches must fit: the default is two default batches). */
  SUBSCRIPTION_BUFFER: int(1).default(10_000),
  /**
   * Most events one `eventPublished(after:)` replays; past it the subscription is refused, telling the client to page
   * the `events` history. Below SUBSCRIPTION_BUFFER, so a replay and the live events arriving meanwhile fit.
   */
  MAX_REPLAY_EVENTS: int(1).default(5_000),
  /** Events the stream processor takes from the outbox (and broadcasts) at a time. */
  PROCESSOR_BATCH_SIZE: int(1).default(5_000),
  /**
   * Most events each outbox partition reads and broadcasts ahead of its applies (one read of PROCESSOR_BATCH_SIZE more,
   * and as many found behind the reads, may be added), so that a live event reaches subscribers while the thousands
   * before it are still being aggregated. Memory: about a kilobyte an event, in the processing process.
   */
  PROCESSOR_READ_AHEAD: int(1).default(20_000),
  /**
   * Most Redis hash fields one atomic apply may write (src/aggregation/apply-cost.ts); a batch that would write more
   * is applied in several runs, in event-time order. A call blocks Redis while it runs, 2.5–4 ms per 1,000 fields
   * here: the default keeps calls at ~14 ms, at most ~28 ms measured, however the batch's event times spread
   * (`npm run bench:redis-calls`); a smaller budget costs Redis more in all, as runs rewrite shared buckets.
   */
  PROCESSOR_MAX_FIELDS_PER_APPLY: int(100).default(6_000),
  /** How often the stream processor looks at the outbox when nobody nudged it. */
  PROCESSOR_POLL_MS: int(5).default(250),
  /** Lifetime of the stream processor's leases (each partition's, the alert engine's); renewed at a third of it. */
  PROCESSOR_LEASE_MS: int(500).default(5_000),
  /**
   * How long a processor waits for the broadcast lock, and may hold it while it records and broadcasts a batch
   * (src/events/broadcast-log.ts); past it the pass fails and is retried. A processor stuck in its broadcast (Redis
   * half-open, its process paused) stops the other partitions for about this long (twice it if paused: Postgres ends
   * its session), not for as long as its connection lives.
   */
  PROCESSOR_BROADCAST_TIMEOUT_MS: int(50).default(3_000),
  /** How long a publish on the Redis bus may wait for Redis's answer before it fails (a half-open connection). */
  BUS_PUBLISH_TIMEOUT_MS: int(50).default(2_000),
  /**
   * Partitions of the outbox, processed side by side and shared out between the instances (at most ⌈P/k⌉ each of k).
   * The same on every instance; changing it needs every processing process stopped. Embedded mode runs one.
   * One by default: on one machine, partitions processed side by side add Postgres work per pass that costs the
   * publish → delivery latency more than their throughput gains (BENCHMARKS.md, "Event pipeline"); set it to the
   * number of machines you mean to scale out to before you do.
   */
  PROCESSOR_PARTITIONS: int(1).max(256).default(1),

  /**
   * Most metric × window pairs one operation may read, over all its `aggregate`/`aggregates` fields and aliases
   * (a pair reads 60 buckets). Checked before execution, from the arguments and the variables' values.
   */
  MAX_AGGREGATE_PAIRS: int(1).default(500),
  /**
   * Most rows one operation may ask for, over all its list fields and aliases (`events`, `alerts` and `metricNames`
   * count their `first`), from the arguments and the variables' values: four full history pages.
   */
  MAX_ROWS_PER_REQUEST: int(1).default(2_000),
  /**
   * Metric × window pairs read per Redis call: a call blocks Redis while it runs, so a large read is split into
   * calls of this many pairs (60 bucket reads each): 10 pairs of full 24 h windows take a few ms
   * (`npm run bench:redis-calls`).
   */
  AGGREGATE_READ_CHUNK: int(1).default(10),
  /** How often live metric views are re-read without a change notice, as windows slide. */
  METRIC_SLIDE_REFRESH_MS: int(50).default(1_000),
  /** Every rule is evaluated at least this often (and also whenever a metric it names changes). */
  ALERT_EVALUATION_INTERVAL_MS: int(50).default(1_000),
  /**
   * The alert engine's window cache is dropped this often and every rule read from the store: a change notice lost on
   * the bus is seen within it (otherwise its buckets would stay stale until they slide out of the window, hours).
   */
  ALERT_WINDOW_REFRESH_MS: int(1_000).default(30_000),
  /** Most stored events one `previewAlertRule` backtest may read; past it the backtest is refused (BAD_USER_INPUT). */
  MAX_BACKTEST_ROWS: int(1).default(1_000_000),
  /** Backtests one serving process runs at once (each in a worker thread); past it, OVERLOADED. */
  MAX_CONCURRENT_BACKTESTS: int(1).default(2),
  /** Key of the HMAC-SHA256 in X-Jackdaw-Signature(-V2); unset, rules with webhooks are refused. */
  WEBHOOK_SECRET: z.string().default(''),
  /** The secret being rotated out: the V2 header carries a signature with it too, until receivers have the new one. */
  WEBHOOK_SECRET_PREVIOUS: z.string().default(''),
  /** Lets webhooks reach loopback, private, link-local, CGNAT and metadata addresses (tests, closed networks). */
  ALLOW_PRIVATE_WEBHOOK_TARGETS: bool.default(false),
  /** Limit on one webhook or SMTP attempt. */
  WEBHOOK_TIMEOUT_MS: int(1).default(5_000),
  /** Attempts per notification channel, the first included. */
  WEBHOOK_ATTEMPTS: int(1).default(5),
  /** Wait after the first failed attempt; doubles after each further one. */
  WEBHOOK_BACKOFF_MS: int(0).default(500),
  /** SMTP server for HIGH and CRITICAL alert emails, e.g. smtp://user:pass@host:587; unset means no email. */
  SMTP_URL: z.string().url().optional(),
  ALERT_EMAIL_FROM: z.string().default('Jackdaw Sentry <alerts@jackdaw.invalid>'),
  // Notifications (issue 12)
  /** Shortest `repeatIntervalSeconds` a rule may ask for: no receiver wants paging more than once a minute. */
  MIN_REPEAT_INTERVAL_SECONDS: int(1).default(60),
  /** Longest `summary` template: a paragraph. */
  MAX_SUMMARY_LENGTH: int(1).default(1_000),
  /** Silences not yet ended; each is checked against every open alert once a second. */
  MAX_SILENCES: int(1).default(1_000),
  /**
   * Most label sets one alert rule with `groupBy` tracks at once (each is a read per condition at every evaluation,
   * a state and, firing, an alert): a rule that finds more is refused when saved; one that comes to find more later
   * keeps the label sets it tracks (pending and firing first) and leaves the others out, with a warning in the log.
   */
  MAX_ALERT_LABEL_SETS_PER_RULE: int(1).default(100),
  /** Longest comment on a silence or an acknowledgement. */
  MAX_COMMENT_LENGTH: int(1).default(1_000),
  DASHBOARD_INTERVAL_MS: int(50).default(5_000),
  /** Least time between two `metricUpdated` messages of one subscription. */
  METRIC_UPDATE_MIN_INTERVAL_MS: int(0).default(250),

  /** Time given to in-flight work on stop before sockets are closed anyway. */
  SHUTDOWN_GRACE_MS: int(0).default(10_000),

  // The process model (src/roles/). With Redis and Postgres, a primary process forks one processing process and
  // WEB_CONCURRENCY serving processes sharing the port; without either, one process does everything.
  /**
   * Serving processes (node:cluster workers sharing PORT). Unset: one per CPU (os.availableParallelism()). 0: no
   * cluster, one process serves and processes, as in the embedded mode. Ignored without REDIS_URL and DATABASE_URL:
   * there is no cross-process bus, and PGlite is one process's database.
   */
  WEB_CONCURRENCY: int(0).optional(),
  /**
   * Serving processes each listen on PORT with SO_REUSEPORT where Node supports it (22.12 or later, on Linux) and PORT
   * is not 0: the kernel spreads new connections, with no hand-off through the primary (roles/plan.ts, `reusesPort`).
   * false: the primary accepts every connection and hands them out in turn.
   */
  SERVING_REUSE_PORT: bool.default(true),
  /**
   * The largest semi-space of V8's young generation (which is three of them) in each worker process, in MB. From Node
   * 22, V8 sizes it by the heap limit: under 16 MB up to a 2 GiB limit, 64 MB at 4 GiB (192 MB of young generation per
   * process, most of it resident after a burst). Unset: 16 (Node 20's own size) where the heap limit is above 2 GiB,
   * V8's own choice below, where it is smaller. 0: always V8's own. A semi-space flag in NODE_OPTIONS or node's
   * arguments wins (roles/plan.ts, `workerExecArgv`).
   */
  WORKER_SEMI_SPACE_MB: int(0).optional(),
  /** Wait before a worker that died is started again; doubles with each death in a row. */
  WORKER_RESTART_BACKOFF_MS: int(0).default(500),
  /** Longest wait before a restart; a worker that lived longer than this starts the doubling afresh. */
  WORKER_RESTART_BACKOFF_MAX_MS: int(0).default(30_000),

  // Limits on what one client may ask of the server (src/security/). Each is checked before any resolver runs.
  /** Deepest selection set of an operation (the deepest query of the contract is 6). */
  MAX_QUERY_DEPTH: int(1).default(12),
  /**
   * Largest operation cost (graphql-armor: 2 per object field, 1 per scalar, growing by 1.5× per level of depth,
   * times a literal `first`). A full history page, `events(first: 500)` with every field, costs about 20,000.
   */
  MAX_QUERY_COST: int(1).default(50_000),
  /** Most aliases in one operation: aliases multiply work without making the document deep. */
  MAX_QUERY_ALIASES: int(0).default(20),
  /** Most lexical tokens in one document, so parsing itself is bounded (send big inputs as variables). */
  MAX_QUERY_TOKENS: int(10).default(5_000),
  /** Whether `__schema`/`__type` may be queried (GraphiQL needs it). Unset: off in production, on elsewhere. */
  INTROSPECTION: bool.optional(),
  /** Whether a browser's GET /graphql gets GraphiQL. Unset: off in production, on elsewhere. */
  GRAPHIQL: bool.optional(),
  /**
   * Origins allowed to call /graphql from a browser, comma-separated (`https://app.example.com`), or `*` for any.
   * Unset: none in production, any elsewhere. WebSocket is not bound by it: keys travel in connection_init, never
   * as cookies, so another site's page cannot borrow a user's credentials.
   */
  CORS_ORIGINS: z.string().optional(),
  /** Bearer token that /metrics and /health's details require (16+ characters). */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** A port of its own for /metrics (and /health, /ready), on HOST; /metrics then leaves PORT. */
  METRICS_PORT: int(0).optional(),

  // Before authentication (src/security/client-address.ts, auth-gate.ts): what a client without a key can hold.
  /**
   * Proxies whose X-Forwarded-For is believed, comma-separated addresses or CIDRs (`10.0.0.0/8, ::1`); the client is
   * the right-most hop that is not one of them. Empty: the TCP peer is the client.
   */
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((text, ctx) => {
      const { entries, invalid } = parseTrustedProxies(text);
      if (invalid.length > 0)
        ctx.addIssue({ code: 'custom', message: `not an address or CIDR: ${invalid.join(', ')}` });
      return entries;
    }),
  /** Time a client gets to send a request's headers (node's headersTimeout); past it, 408 and the socket closes. */
  HTTP_HEADERS_TIMEOUT_MS: int(1_000).default(10_000),
  /** Time a client gets to send a whole request, body included (node's requestTimeout); past it, 408. */
  HTTP_REQUEST_TIMEOUT_MS: int(1_000).default(30_000),
  /** How long an idle keep-alive HTTP socket stays open; longer than a proxy's upstream idle timeout (60 s). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: int(1_000).default(65_000),
  /** WebSockets one address may hold open before its connection_init is accepted; past it, 429 on upgrade. */
  MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS: int(1).default(50),
  /**
   * Bytes a WebSocket may send before its connection_init is accepted (its handshake frame holds a key and little
   * else); past it the connection is dropped, so strangers cannot make the server buffer MAX_BODY_BYTES messages.
   */
  MAX_UNAUTHENTICATED_WS_BYTES: int(1_024).default(16 * 1_024),
  /**
   * How long a WebSocket may stay open without its connection_init accepted; then it is closed with 4408. Short, as
   * each such socket counts against MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS (graphql-ws's own default).
   */
  WS_CONNECTION_INIT_TIMEOUT_MS: int(100).default(3_000),
  /** WebSocket upgrades one address may make per minute; past it, 429 on upgrade. 0 switches the limit off. */
  WS_CONNECTS_PER_ADDRESS_PER_MINUTE: int(0).default(600),
  /**
   * Keys from one address per minute that are not in the key cache and turn out unknown; past it, keys from that
   * address not already cached are refused (RATE_LIMITED, 1013 on WebSocket) without asking the database.
   * 0 switches the limit off.
   */
  AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: int(0).default(60),
  /** Largest HTTP request body and WebSocket message, in bytes (a full batch of maximal events needs more). */
  MAX_BODY_BYTES: int(1_024).default(10 * 1024 * 1024),
  /** Operations one WebSocket connection may have running at once. */
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(1).default(100),
  /**
   * WebSocket connections one API key may hold open, per serving process (WEB_CONCURRENCY × this per instance): a
   * frontend's shared key needs hundreds.
   */
  MAX_CONNECTIONS_PER_KEY: int(1).default(1_000),
  /**
   * Subscriptions one API key may have running at once, per process, across its connections: shared execution makes
   * each cheap, but each still costs a socket write per event.
   */
  MAX_SUBSCRIPTIONS_PER_KEY: int(1).default(2_000),
  /**
   * Whether identical subscriptions (same document, variables and role) share one execution per event. Off executes
   * every subscriber alone, as a plain graphql-ws server does: slower, and kept as a way back.
   */
  WS_SHARED_EXECUTION: bool.default(true),
  /** How often every WebSocket is pinged; one that has not answered the previous ping by then is dropped. */
  WS_KEEPALIVE_MS: int(1_000).default(12_000),
  /** Operations (HTTP requests, WebSocket subscribes) per API key per second; 0 switches the limit off. */
  RATE_LIMIT_PER_SECOND: int(0).default(1_000),
  /** How often open WebSocket connections are checked against revoked keys, besides the revocation message. */
  REVOCATION_CHECK_MS: int(50).default(2_000),
  /** Bytes waiting on a WebSocket past which dashboard and metric updates are coalesced (latest wins). */
  WS_COALESCE_BYTES: int(0).default(256 * 1024),
  /** Bytes waiting on a WebSocket past which the client is disconnected as too slow. */
  WS_MAX_BUFFERED_BYTES: int(1_024).default(16 * 1024 * 1024),
  /** Events accepted but not yet committed, across all publish calls of a serving process; past it, OVERLOADED. */
  INGEST_QUEUE_SIZE: int(1).default(10_000),
  /** Deepest nesting of one event's `data` (objects and arrays). */
  MAX_EVENT_DEPTH: int(1).default(32),
  /**
   * How far in the past an event timestamp may be. Never under 24 h, the aggregation horizon: events up to a day
   * late (a publisher's retry after an outage) must still be accepted. 30 days, as the history is kept.
   */
  MAX_EVENT_AGE_MS: int(24 * 60 * 60_000).default(30 * 24 * 60 * 60_000),
  /**
   * Days of events kept (src/events/retention.ts): the log is partitioned by UTC day and a day is dropped whole
   * once all of it is older than this. An event older than it is refused at publish (BAD_USER_INPUT).
   */
  EVENT_RETENTION_DAYS: int(1).default(30),
  /** Days after today with a partition made ahead of time; must cover MAX_FUTURE_SKEW_MS with a day to spare. */
  EVENT_PARTITIONS_AHEAD_DAYS: int(1).default(7),
  /**
   * Days an event id is kept in "EventId" (after the day a UUIDv7 carries, other ids after their event's
   * timestamp), so that a repeat of it is a duplicate (the idempotency window); unset: EVENT_RETENTION_DAYS. Never
   * less: every stored event keeps its id.
   */
  EVENT_ID_RETENTION_DAYS: int(1).optional(),
  /**
   * Largest magnitude of a metric value: far beyond any real measurement, and small enough that sums of a whole
   * window stay finite (a sum reaches Number.MAX_VALUE only after 10^293 such values).
   */
  MAX_METRIC_MAGNITUDE: z.coerce.number().positive().max(Number.MAX_VALUE).default(1e15),

  // Cardinality: every metric name is a series with 360 buckets in the aggregate store, kept for 24 h.
  /** Most entries in one event's `data.metrics`. */
  MAX_METRICS_PER_EVENT: int(1).default(100),
  /** New series (metric names without samples in the last 24 h) one API key may start per minute. */
  MAX_NEW_SERIES_PER_MINUTE: int(1).default(1_000),
  /** Most live series (metric names with samples in the last 24 h) in the whole deployment. */
  MAX_SERIES: int(1).default(10_000),
  /** Most labels in one event's `data.labels`: each label set of a metric is a series of its own (at most 32). */
  MAX_LABELS_PER_EVENT: int(0).max(32).default(8),
  /** Longest label value, in characters (at most 256). */
  MAX_LABEL_VALUE_LENGTH: int(1).max(256).default(64),
  /**
   * Most label sets one labelled read may merge (`aggregate` or `metricSeries` with labels, every group of an
   * `aggregateGroups`, a label listing): each set is a series whose 60 buckets are read.
   */
  MAX_LABEL_SETS_PER_READ: int(1).default(2_000),
  /** Slowest `minIntervalMs` a `metricUpdated` / `metricSeriesUpdated` subscriber may ask for (one hour). */
  MAX_SUBSCRIPTION_INTERVAL_MS: int(1).default(3_600_000),
  /** Largest `first` of `metricNames` (whose default is 1,000): names are paged like every other list. */
  MAX_METRIC_NAMES_PAGE: int(1).default(1_000),

  // Traces (src/observability/tracing.ts). Off unless asked for: with it off the OpenTelemetry API's no-op tracer runs.
  /** Export traces over OTLP/HTTP; unset: on exactly when an OTLP endpoint below is set. */
  TRACING: bool.optional(),
  /** The OTLP collector (the standard variable; traces go to <it>/v1/traces). Read by the exporter itself too. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  /** The OTLP traces endpoint in full, ahead of OTEL_EXPORTER_OTLP_ENDPOINT (the standard variable). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  /** `service.name` of every span this server exports. */
  OTEL_SERVICE_NAME: z.string().min(1).default('jackdaw-sentry'),
});

const DAY_MS = 86_400_000;

export interface ClusterNode {
  host: string;
  port: number;
}

export type RedisTarget = { kind: 'single'; url: string } | { kind: 'cluster'; nodes: ClusterNode[] };

/** Where Redis is (src/redis.ts), or null when the server runs without it (in-process bus and aggregates). */
export function redisTargetOf(config: Pick<Config, 'REDIS_URL' | 'REDIS_CLUSTER_NODES'>): RedisTarget | null {
  if (config.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: config.REDIS_CLUSTER_NODES };
  if (config.REDIS_URL) return { kind: 'single', url: config.REDIS_URL };
  return null;
}

/** `host:port,host:port` (IPv6 hosts in brackets) → the nodes, and the entries that are not one. */
export function parseClusterNodes(text: string): { nodes: ClusterNode[]; invalid: string[] } {
  const nodes: ClusterNode[] = [];
  const invalid: string[] = [];
  for (const entry of text.split(',').map((e) => e.trim())) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65_535) invalid.push(JSON.stringify(entry));
    else nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  return { nodes, invalid };
}

/** Settings that bound each other: the retention's (src/events/retention.ts), the token key sources. */
const checked = schema.superRefine((config, ctx) => {
  // The key layouts put their own hash tags after the prefix (src/redis.ts); Redis hashes only the first `{…}`.
  if (config.REDIS_CLUSTER_NODES && /[{}]/.test(config.REDIS_KEY_PREFIX)) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_KEY_PREFIX'],
      message: 'must hold no { or } with REDIS_CLUSTER_NODES: a hash tag in it would put every key in one cluster slot',
    });
  }
  if (config.REDIS_URL && config.REDIS_CLUSTER_NODES) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_CLUSTER_NODES'],
      message: 'set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both',
    });
  }
  if (config.JWT_JWKS_URL && config.JWT_JWKS_FILE) {
    ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_FILE'], message: 'set JWT_JWKS_URL or JWT_JWKS_FILE, not both' });
  }
  // A JWKS is usually an identity provider's, shared by many applications: without an audience to check, a token it
  // issued for any of them (with a role claim) would open this API too.
  if ((config.JWT_JWKS_URL || config.JWT_JWKS_FILE) && !config.JWT_AUDIENCE) {
    ctx.addIssue({
      code: 'custom',
      path: ['JWT_AUDIENCE'],
      message:
        "required with JWT_JWKS_URL or JWT_JWKS_FILE: the identity provider's tokens for other applications would be accepted",
    });
  }
  const skewDays = Math.ceil(config.MAX_FUTURE_SKEW_MS / DAY_MS);
  if (config.EVENT_PARTITIONS_AHEAD_DAYS < skewDays + 1) {
    ctx.addIssue({
      code: 'custom',
      path: ['EVENT_PARTITIONS_AHEAD_DAYS'],
      message: `must be at least ${skewDays + 1}: MAX_FUTURE_SKEW_MS (${config.MAX_FUTURE_SKEW_MS}) accepts events ${skewDays} day(s) ahead, and a partition must exist for them with a day to spare`,
    });
  }
  if (config.EVENT_ID_RETENTION_DAYS !== undefined && config.EVENT_ID_RETENTION_DAYS < config.EVENT_RETENTION_DAYS) {
    ctx.addIssue({
      code: 'custom',
      path: ['EVENT_ID_RETENTION_DAYS'],
      message: `must be at least EVENT_RETENTION_DAYS (${config.EVENT_RETENTION_DAYS}): a stored event must keep its id, or a repeat of it would be stored again`,
    });
  }
});

/** Defaults that depend on NODE_ENV: what strangers could use is off in production unless asked for. */
const withExposureDefaults = checked.transform((config) => {
  const production = config.NODE_ENV === 'production';
  return {
    ...config,
    EVENT_ID_RETENTION_DAYS: config.EVENT_ID_RETENTION_DAYS ?? config.EVENT_RETENTION_DAYS,
    INTROSPECTION: config.INTROSPECTION ?? !production,
    GRAPHIQL: config.GRAPHIQL ?? !production,
    CORS_ORIGINS: config.CORS_ORIGINS ?? (production ? '' : '*'),
  };
});

export type Config = z.infer<typeof withExposureDefaults>;

/** Every setting's name: the README's configuration table must have a row for each (test/unit/config-docs.test.ts). */
export const SETTING_NAMES: readonly string[] = Object.keys(schema.shape);

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(withExposureDefaults, env, 'configuration');
}

function parseEnv<T extends z.ZodType>(settings: T, env: NodeJS.ProcessEnv, what: string): z.infer<T> {
  const parsed = settings.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid ${what}: ${problems}`);
  }
  return parsed.data;
}

// `npm run demo` (scripts/demo.ts): a client of a running server, with settings of its own beside the server's it
// shares (PORT for the default URL, ADMIN_API_KEY and DATA_DIR to find an admin key).
const demoSchema = z.object({
  PORT: schema.shape.PORT,
  DATA_DIR: schema.shape.DATA_DIR,
  ADMIN_API_KEY: schema.shape.ADMIN_API_KEY,
  /** The server's GraphQL endpoint; unset: http://localhost:PORT/graphql. */
  DEMO_URL: z.string().url().optional(),
  /** Key the demo uses (it creates alert rules, so an admin's); unset: ADMIN_API_KEY, then DATA_DIR/first-admin-key. */
  DEMO_API_KEY: z.string().min(1).optional(),
  /** How long the demo runs before it stops on its own (Ctrl-C stops it sooner). */
  DEMO_SECONDS: int(1).default(120),
  /** Events the demo publishes per second on average (it varies the rate around it). */
  DEMO_EVENTS_PER_SECOND: int(1).default(30),
});

export type DemoConfig = z.infer<typeof demoSchema>;

export function loadDemoConfig(env: NodeJS.ProcessEnv = process.env): DemoConfig {
  return parseEnv(demoSchema, env, 'demo configuration');
}

/** Configuration for code that builds an app without an environment (tests, benchmarks). */
export function configWith(overrides: Partial<Record<keyof Config, string | number>>): Config {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) env[key] = String(value);
  return loadConfig(env);
}
