// One HTTP server: GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on /graphql, plus /health,
// /ready and /metrics. Both transports run through yoga's envelop, so they share plugins, context and validation.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Principal } from './auth/keys.js';
import { bearerKey } from './auth/keys.js';
import type { Config } from './config.js';
import { type Context, createLoaders } from './context.js';
import { apiError, maskInternalErrors, withContractCodes } from './errors.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type Metrics } from './observability/metrics.js';
import { schema } from './schema/index.js';
import { ConnectionRegistry } from './security/connections.js';
import { limitPlugins } from './security/limits.js';
import { createRateLimiter, rateLimitPlugin } from './security/rate-limit.js';
import { createServices, type Services } from './services.js';
import { createHttpHandler } from './transport/http.js';
import { attachWebSocket } from './transport/websocket.js';

export interface App {
  /** Listens on `port` (0 for any free one) and resolves with the URL of /graphql. */
  start(port?: number, host?: string): Promise<string>;
  /** Drains in-flight requests, closes sockets with 1001, stops the processor, then closes Redis and Postgres. */
  stop(): Promise<void>;
  services: Services;
  metrics: Metrics;
}

const GOING_AWAY = 1001;

export async function buildApp(config: Config, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const services = await createServices(config, logger);
  const metrics = createMetrics();
  const rateLimiter = createRateLimiter({
    perSecond: config.RATE_LIMIT_PER_SECOND,
    redis: services.redis,
    keyPrefix: config.REDIS_KEY_PREFIX,
  });
  const connections = new ConnectionRegistry({
    maxPerKey: config.MAX_CONNECTIONS_PER_KEY,
    checkEveryMs: config.REVOCATION_CHECK_MS,
    bus: services.bus,
    logger,
    revokedAmong: (ids) => services.apiKeys.store.revokedAmong(ids),
  });

  /** A key check that fails because the database does is UNAVAILABLE to the client, never the driver's message. */
  async function authenticate(key: string, requestId: string): Promise<Principal | null> {
    try {
      return await services.apiKeys.store.authenticate(key);
    } catch (error) {
      logger.error({ err: error, requestId }, 'API key check failed');
      throw apiError('UNAVAILABLE', `API keys cannot be checked now; retry later (request id ${requestId})`, {
        requestId,
      });
    }
  }

  const generatedKey = await services.apiKeys.store.bootstrapAdmin(config.ADMIN_API_KEY);
  if (generatedKey) {
    // Printed once, to the console only: it is stored as a hash and never logged.
    process.stdout.write(
      `\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n`,
    );
  }

  const yoga = createYoga<{ principal?: Principal | null; requestId?: string }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // GraphiQL from the installed package, not a CDN: it works behind firewalls and offline.
    renderGraphiQL,
    logging: false,
    context: async (initial) => {
      let principal = initial.principal;
      const requestId = initial.requestId ?? randomUUID();
      if (principal === undefined) {
        const key = bearerKey(initial.request?.headers.get('authorization'));
        principal = key ? await authenticate(key, requestId) : null;
      }
      return { principal, requestId, services, loaders: createLoaders(services) };
    },
    maskedErrors: { maskError: maskInternalErrors(logger) },
    plugins: [
      ...limitPlugins(config),
      ...(rateLimiter ? [rateLimitPlugin(rateLimiter, config.RATE_LIMIT_PER_SECOND)] : []),
      {
        onResultProcess({ result }) {
          for (const item of Array.isArray(result) ? result : [result])
            withContractCodes((item as { errors?: GraphQLError[] }).errors);
        },
      },
    ],
  });

  const server = createServer();
  const wss = attachWebSocket({ server, yoga, config, logger, connections, authenticate });
  const route = createHttpHandler({ yoga, services, config, metrics, wss });
  server.on('request', (req, res) => {
    route(req, res).catch((error) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });

  services.ingestion.hooks = {
    onPublished: ({ accepted, duplicates }) => {
      metrics.eventsAccepted.inc(accepted);
      metrics.eventsDuplicate.inc(duplicates);
    },
    onRefused: (code) => metrics.eventsRejected.inc({ code }),
  };
  Object.assign(services.processor.hooks, {
    onLateEvents: (count: number) => metrics.eventsLate.inc(count),
    onProcessed: (events: unknown[], latencies: number[]) => {
      metrics.eventsProcessed.inc(events.length);
      for (const ms of latencies) metrics.processingLatency.observe(ms / 1000);
    },
  });

  let stopping: Promise<void> | null = null;
  return {
    services,
    metrics,
    async start(port = config.PORT, host = config.HOST) {
      await services.start();
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
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        connections.stop();
        await services.close();
      })();
      return stopping;
    },
  };
}
