// One HTTP server: GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on /graphql, plus /health,
// /ready and /metrics. Both transports run through yoga's envelop, so they share plugins, context and validation.
// `buildApp` serves and processes in one process (embedded mode, tests); `buildServingApp` is the serving role of a
// cluster (src/roles/serve.ts), with the processing role in a process of its own.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ensureFirstAdmin } from './auth/first-admin.js';
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
import { ConnectionRegistry } from './security/connections.js';
import { createRateLimiter, rateLimitCheck } from './security/rate-limit.js';
import { createRuntime, createServingRuntime, type Runtime, type Services, type ServingRuntime } from './services.js';
import { createHttpHandler, createYogaServer } from './transport/http.js';
import { attachWebSocket, type WebSocketTransport } from './transport/websocket.js';

export interface App<R extends ServingRuntime = Runtime> {
  /** Listens on `port` (0 for any free one) and resolves with the URL of /graphql. */
  start(port?: number, host?: string): Promise<string>;
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
  await ensureFirstAdmin(runtime.apiKeyStore, { configuredKey: config.ADMIN_API_KEY, dataDir: config.DATA_DIR });
  const isLeader = () => runtime.processor.isLeader;
  return serve(runtime, metrics, 'standalone', {
    gauges: { isLeader },
    instance: (local) => ({
      processing: async () => ({ leader: isLeader(), pid: process.pid }),
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
    keyPrefix: config.REDIS_KEY_PREFIX,
  });
  const connections = new ConnectionRegistry({
    maxPerKey: config.MAX_CONNECTIONS_PER_KEY,
    maxSubscriptionsPerKey: config.MAX_SUBSCRIPTIONS_PER_KEY,
    checkEveryMs: config.REVOCATION_CHECK_MS,
    bus: runtime.bus,
    logger,
    revokedAmong: (ids) => services.apiKeys.revokedAmong(ids),
  });

  const rateLimit = rateLimiter ? rateLimitCheck(rateLimiter, config.RATE_LIMIT_PER_SECOND) : null;
  const yoga = createYogaServer({ config, logger, services, rateLimit });
  const server = createServer();
  const webSocket = attachWebSocket({
    server,
    yoga,
    config,
    logger,
    connections,
    apiKeys: services.apiKeys,
    rateLimit,
  });
  const { wss } = webSocket;
  const gauges: ProcessGauges = {
    websocketConnections: () => wss.clients.size,
    outboxBacklog: () => runtime.eventStore.outboxSize(),
    ...options.gauges,
  };
  const sampleLocal = () => sampleGauges(metrics, gauges);
  const instance = options.instance(sampleLocal);
  const route = createHttpHandler({ yoga, runtime, config, metrics, wss, instance, role });
  server.on('request', (req, res) => {
    route(req, res).catch((error) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });

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
    async start(port = config.PORT, host = config.HOST) {
      await runtime.start();
      await connections.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const address = server.address() as AddressInfo;
      const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
      return `http://${shownHost}:${address.port}/graphql`;
    },
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        for (const client of wss.clients) client.close(GOING_AWAY, 'server is shutting down');
        const grace = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_GRACE_MS);
        await closed;
        clearTimeout(grace);
        await webSocket.close();
        connections.stop();
        await runtime.close();
      })();
      return stopping;
    },
  };
}
