// One HTTP server: GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on /graphql, plus /health,
// /ready and /metrics. Both transports run through yoga's envelop, so they share plugins, context and validation.
// `buildApp` serves and processes in one process (embedded mode, tests); `buildServingApp` is the serving role of a
// cluster (src/roles/serve.ts), with the processing role in a process of its own.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, ListenOptions } from 'node:net';
import { ensureFirstAdmin } from './auth/first-admin.js';
import { TOKEN_ID_PREFIX, TokenVerifier } from './auth/tokens.js';
import type { Config } from './config.js';
import type { InstanceView } from './observability/instance.js';
import { type Logger, loggerOf } from './observability/logger.js';
import {
  createMetrics,
  type Metrics,
  type MetricsJson,
  type ProcessGauges,
  type ProcessRole,
  sampleGauges,
} from './observability/metrics.js';
import { traceRequest } from './observability/tracing.js';
import { AuthGate } from './security/auth-gate.js';
import { clientAddressResolver } from './security/client-address.js';
import { ConnectionRegistry } from './security/connections.js';
import { createRateLimiter, createWindowLimiter, rateLimitCheck } from './security/rate-limit.js';
import { createRuntime, createServingRuntime, type Runtime, type Services, type ServingRuntime } from './services.js';
import { createHttpHandler, createYogaServer } from './transport/http.js';
import { attachWebSocket, type WebSocketTransport } from './transport/websocket.js';

export interface App<R extends ServingRuntime = Runtime> {
  /**
   * Listens on `port` (0 for any free one), and on METRICS_PORT when set, and resolves with the URL of /graphql.
   * `reusePort`: `port` on a socket of this process's own with SO_REUSEPORT (a cluster's serving process; roles/plan.ts).
   */
  start(port?: number, host?: string, options?: { reusePort?: boolean }): Promise<string>;
  /** Once started with METRICS_PORT set, the base URL of that port (`http://host:port`); else null. */
  metricsUrl(): string | null;
  /** Drains in-flight requests, closes sockets with 1001, stops the processor, then closes Redis and Postgres. */
  stop(): Promise<void>;
  /** The application services, as resolvers see them. */
  services: Services;
  /** Everything behind them (stores, bus, and in one process the processor), for transports, health and tests. */
  runtime: R;
  /** The WebSocket side: its server and the shared subscription groups. */
  webSocket: WebSocketTransport;
  metrics: Metrics;
  /** This process's metrics, gauges read now, for the primary to merge with the other processes'. */
  localMetrics(): Promise<MetricsJson>;
}

const GOING_AWAY = 1001;

/** Serving and processing in one process. */
export async function buildApp(config: Config, options: { logger?: Logger } = {}): Promise<App<Runtime>> {
  const logger = options.logger ?? loggerOf(config);
  const metrics = createMetrics('standalone');
  const runtime = await createRuntime(config, logger, metrics);
  await ensureFirstAdmin(runtime.apiKeyStore, runtime.bus, logger, {
    configuredKey: config.ADMIN_API_KEY,
    dataDir: config.DATA_DIR,
  });
  const isLeader = () => runtime.processor.isLeader;
  return serve(runtime, metrics, 'standalone', {
    gauges: { isLeader, partitionsHeld: () => runtime.processor.heldPartitions.length },
    instance: (local) => ({
      processing: async () => ({
        leader: isLeader(),
        partitions: runtime.processor.heldPartitions,
        alerts: runtime.processor.isServing,
        pid: process.pid,
      }),
      metrics: async () => {
        await local();
        return metrics.registry.metrics();
      },
    }),
  });
}

/** The serving role: no processor here; `instance` reaches the other processes through the primary. */
export async function buildServingApp(
  config: Config,
  options: { logger: Logger; instance: InstanceView },
): Promise<App<ServingRuntime>> {
  const metrics = createMetrics('serve');
  const runtime = await createServingRuntime(config, options.logger, metrics);
  return serve(runtime, metrics, 'serve', { instance: () => options.instance });
}

interface ServeOptions {
  /** Gauges this process knows besides the serving ones. */
  gauges?: ProcessGauges;
  /** The instance as /health and /metrics report it, given how to read this process's own gauges. */
  instance: (sampleLocal: () => Promise<void>) => InstanceView;
}

async function serve<R extends ServingRuntime>(
  runtime: R,
  metrics: Metrics,
  role: ProcessRole,
  options: ServeOptions,
): Promise<App<R>> {
  const { config, logger, services } = runtime;
  const rateLimiter = createRateLimiter({
    perSecond: config.RATE_LIMIT_PER_SECOND,
    redis: runtime.redis,
    keyPrefix: runtime.redisKeyPrefix,
  });
  const connections = new ConnectionRegistry({
    maxPerKey: config.MAX_CONNECTIONS_PER_KEY,
    maxSubscriptionsPerKey: config.MAX_SUBSCRIPTIONS_PER_KEY,
    checkEveryMs: config.REVOCATION_CHECK_MS,
    bus: runtime.bus,
    logger,
    // A token's sockets close when it expires (transport/websocket.ts): nothing in the database to ask about them.
    revokedAmong: (ids) => services.apiKeys.revokedAmong(ids.filter((id) => !id.startsWith(TOKEN_ID_PREFIX))),
  });

  // Per-address limits before authentication: global through Redis like the rate limit, per process without it.
  const perAddressPerMinute = (points: number, name: string) =>
    createWindowLimiter({
      points,
      durationSeconds: 60,
      redis: runtime.redis,
      name: `${runtime.redisKeyPrefix}${name}`,
    });
  const gate = new AuthGate(
    services.apiKeys,
    perAddressPerMinute(config.AUTH_FAILURES_PER_ADDRESS_PER_MINUTE, 'authfailures'),
    TokenVerifier.fromConfig(config),
  );
  const clientAddress = clientAddressResolver(config.TRUSTED_PROXIES);

  const rateLimit = rateLimiter ? rateLimitCheck(rateLimiter, config.RATE_LIMIT_PER_SECOND) : null;
  const yoga = createYogaServer({ config, logger, services, rateLimit, metrics });
  // A slow client cannot hold a socket for long: headers and whole requests have deadlines, checked every second
  // (node's default check is every 30 s). Node refuses a headers deadline longer than the request's.
  // An idle keep-alive socket is closed after HTTP_KEEP_ALIVE_TIMEOUT_MS: longer than the proxies in front of us keep
  // theirs (nginx and cloud load balancers: 60 s), since a client that reuses a socket the server has just closed
  // gets a reset (ECONNRESET, a 502 through a proxy) instead of an answer. Node's 5 s default raced them.
  const server = createServer({
    headersTimeout: Math.min(config.HTTP_HEADERS_TIMEOUT_MS, config.HTTP_REQUEST_TIMEOUT_MS),
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
  });
  const webSocket = attachWebSocket({
    server,
    yoga,
    config,
    logger,
    connections,
    gate,
    clientAddress,
    connects: perAddressPerMinute(config.WS_CONNECTS_PER_ADDRESS_PER_MINUTE, 'wsconnects'),
    rateLimit,
    // Refused before any operation is read, like HTTP requests refused before their body: of unknown type.
    onRefused: (code) => metrics.graphqlErrors.inc({ code, type: 'unknown' }),
  });
  const { wss } = webSocket;
  const gauges: ProcessGauges = {
    websocketConnections: () => wss.clients.size,
    outboxBacklog: () => runtime.eventStore.outboxSize(),
    ...options.gauges,
  };
  const sampleLocal = () => sampleGauges(metrics, gauges);
  const instance = options.instance(sampleLocal);
  const handlers = createHttpHandler({ yoga, runtime, config, metrics, wss, instance, role, gate, clientAddress });
  const serveWith = (handle: typeof handlers.main) => (req: IncomingMessage, res: ServerResponse) => {
    traceRequest(req, res, () => handle(req, res)).catch((error) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  };
  server.on('request', serveWith(handlers.main));
  const metricsServer =
    config.METRICS_PORT === undefined
      ? null
      : createServer({ headersTimeout: 5_000, requestTimeout: 5_000 }, serveWith(handlers.metricsPort));
  let metricsUrl: string | null = null;

  let stopping: Promise<void> | null = null;
  return {
    services,
    runtime,
    webSocket,
    metrics,
    async localMetrics() {
      await sampleLocal();
      return metrics.registry.getMetricsAsJSON();
    },
    async start(port = config.PORT, host = config.HOST, { reusePort = false } = {}) {
      await runtime.start();
      await connections.start();
      const listen = (on: Server, onPort: number, reuse = false) =>
        new Promise<number>((resolve, reject) => {
          on.once('error', reject);
          // `exclusive`: a cluster worker's listen otherwise goes through the primary. (@types/node 20 lacks reusePort.)
          const options: ListenOptions & { reusePort?: boolean } = { port: onPort, host };
          if (reuse) Object.assign(options, { exclusive: true, reusePort: true });
          on.listen(options, () => resolve((on.address() as AddressInfo).port));
        });
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      const mainPort = await listen(server, port, reusePort);
      if (metricsServer && config.METRICS_PORT !== undefined) {
        metricsUrl = `http://${shownHost}:${await listen(metricsServer, config.METRICS_PORT)}`;
      }
      return `http://${shownHost}:${mainPort}/graphql`;
    },
    metricsUrl: () => metricsUrl,
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        for (const client of wss.clients) client.close(GOING_AWAY, 'server is shutting down');
        const grace = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(grace);
        if (metricsServer?.listening) {
          metricsServer.closeAllConnections();
          await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        }
        await webSocket.close();
        connections.stop();
        await runtime.close();
      })();
      return stopping;
    },
  };
}
