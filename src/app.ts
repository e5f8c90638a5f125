// One HTTP server: GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on /graphql, plus /health,
// /ready and /metrics. Both transports run through yoga's envelop, so they share plugins, context and validation.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { ConnectionRegistry } from './security/connections.js';
import { createRateLimiter, rateLimitCheck } from './security/rate-limit.js';
import { createRuntime, type Runtime, type Services } from './services.js';
import { createHttpHandler, createYogaServer } from './transport/http.js';
import { attachWebSocket, type WebSocketTransport } from './transport/websocket.js';

export interface App {
  /** Listens on `port` (0 for any free one) and resolves with the URL of /graphql. */
  start(port?: number, host?: string): Promise<string>;
  /** Drains in-flight requests, closes sockets with 1001, stops the processor, then closes Redis and Postgres. */
  stop(): Promise<void>;
  /** The application services, as resolvers see them. */
  services: Services;
  /** Everything behind them (stores, bus, processor), for the transports, health checks and tests. */
  runtime: Runtime;
  /** The WebSocket side: its server and the shared subscription groups. */
  webSocket: WebSocketTransport;
  metrics: Metrics;
}

const GOING_AWAY = 1001;

export async function buildApp(config: Config, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const metrics = createMetrics();
  const runtime = await createRuntime(config, logger, metrics);
  const { services } = runtime;
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

  const generatedKey = await services.apiKeys.bootstrapAdmin(config.ADMIN_API_KEY);
  if (generatedKey) {
    // Printed once, to the console only: it is stored as a hash and never logged.
    process.stdout.write(
      `\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n`,
    );
  }

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
  const route = createHttpHandler({ yoga, runtime, config, metrics, wss });
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
