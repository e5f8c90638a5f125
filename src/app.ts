// One HTTP server: GraphQL over HTTP (graphql-yoga) and over WebSocket (graphql-ws) on /graphql, plus /health,
// /ready and /metrics. Both transports run through yoga's envelop, so they share plugins, context and validation.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, getOperationAST } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Principal, bearerKey } from './auth/keys.js';
import type { Config } from './config.js';
import { type Context, createLoaders } from './context.js';
import { ERROR_CODES, apiError } from './errors.js';
import { runChecks } from './observability/health.js';
import { type Logger, createLogger } from './observability/logger.js';
import { type Metrics, createMetrics } from './observability/metrics.js';
import { schema } from './schema/index.js';
import { bodyForYoga, readBodyWithin, refuseBody, refuseInvalidJson } from './security/body-limit.js';
import { SecurityCloseCode } from './security/close-codes.js';
import { ConnectionRegistry } from './security/connections.js';
import { limitPlugins } from './security/limits.js';
import { COALESCIBLE_FIELDS, type OutboundGuard, guardOutbound } from './security/outbound.js';
import { createRateLimiter, rateLimitPlugin } from './security/rate-limit.js';
import { type Services, createServices } from './services.js';

export interface App {
  /** Listens on `port` (0 for any free one) and resolves with the URL of /graphql. */
  start(port?: number, host?: string): Promise<string>;
  /** Drains in-flight requests, closes sockets with 1001, stops the processor, then closes Redis and Postgres. */
  stop(): Promise<void>;
  services: Services;
  metrics: Metrics;
}

/** Close code for a socket whose API key was revoked (Forbidden, as for a bad key at connect). */
export const REVOKED_CLOSE_CODE = SecurityCloseCode.KeyRevoked;
const GOING_AWAY = 1001;
const HEALTH_TIMEOUT_MS = 2_000; // a dependency slower than this is reported unhealthy

type SocketExtra = {
  principal?: Principal;
};

/** A client-caused error carries one of the contract's codes (checked by shape: graphql may be loaded twice). */
function isClientError(error: unknown): boolean {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  return typeof code === 'string' && code !== 'INTERNAL' && (ERROR_CODES as readonly string[]).includes(code);
}

/**
 * Parse, validation and variable errors carry no code, or one of yoga's (GRAPHQL_PARSE_FAILED, BAD_REQUEST…): they
 * are the client's, so BAD_USER_INPUT. Only the contract's codes reach clients, over HTTP and WebSocket alike.
 */
function withContractCodes(errors: readonly GraphQLError[] | undefined): void {
  for (const error of errors ?? []) {
    const extensions = error.extensions as Record<string, unknown> | undefined;
    if (!extensions || (ERROR_CODES as readonly unknown[]).includes(extensions.code)) continue;
    extensions.code = extensions.code === 'INTERNAL_SERVER_ERROR' ? 'INTERNAL' : 'BAD_USER_INPUT';
  }
}

export async function buildApp(config: Config, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const services = await createServices(config, logger);
  const metrics = createMetrics();
  const rateLimiter = createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, redis: services.redis, keyPrefix: config.REDIS_KEY_PREFIX });
  const connections = new ConnectionRegistry({
    maxPerKey: config.MAX_CONNECTIONS_PER_KEY,
    checkEveryMs: config.REVOCATION_CHECK_MS,
    bus: services.bus,
    logger,
    revokedAmong: async (ids) =>
      (await services.db.prisma.apiKey.findMany({ where: { id: { in: ids }, revokedAt: { not: null } }, select: { id: true } })).map(
        (row) => row.id,
      ),
  });
  const outboundGuards = new WeakMap<WebSocket, OutboundGuard>();

  /** A key check that fails because the database does is UNAVAILABLE to the client, never the driver's message. */
  async function authenticate(key: string, requestId: string): Promise<Principal | null> {
    try {
      return await services.apiKeys.store.authenticate(key);
    } catch (error) {
      logger.error({ err: error, requestId }, 'API key check failed');
      throw apiError('UNAVAILABLE', `API keys cannot be checked now; retry later (request id ${requestId})`, { requestId });
    }
  }

  const generatedKey = await services.apiKeys.store.bootstrapAdmin(config.ADMIN_API_KEY);
  if (generatedKey) {
    // Printed once, to the console only: it is stored as a hash and never logged.
    process.stdout.write(`\nNo ADMIN_API_KEY was set, so an admin API key was created. It is shown only this once:\n\n  ${generatedKey}\n\n`);
  }

  const yoga = createYoga<{ principal?: Principal | null; requestId?: string }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
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
    maskedErrors: {
      maskError(error: unknown, message: string): Error {
        const original = (error as { originalError?: { name?: string } }).originalError;
        // graphql-js's own errors (document, variables, scalars) are the client's; the plugin below codes them.
        if (isClientError(original ?? error) || !original || original.name === 'GraphQLError') return error as Error;
        const requestId = randomUUID();
        logger.error({ err: original ?? error, requestId }, 'internal error');
        return apiError('INTERNAL', `${message} (request id ${requestId})`, { requestId });
      },
    },
    plugins: [
      ...limitPlugins(config),
      ...(rateLimiter ? [rateLimitPlugin(rateLimiter, config.RATE_LIMIT_PER_SECOND)] : []),
      {
        onResultProcess({ result }) {
          for (const item of Array.isArray(result) ? result : [result]) withContractCodes((item as { errors?: GraphQLError[] }).errors);
        },
      },
    ],
  });

  async function health(res: ServerResponse, readinessOnly: boolean) {
    const { ok, checks } = await runChecks(
      {
        database: () => services.db.ping(),
        bus: () => services.bus.ping(),
        ...(readinessOnly
          ? {}
          : {
              streamProcessor: async () => ({
                leader: services.processor.isLeader,
                outboxBacklog: await services.events.outboxSize(),
              }),
            }),
      },
      HEALTH_TIMEOUT_MS,
    );
    res.setHeader('content-type', 'application/json');
    if (readinessOnly) {
      res.statusCode = ok ? 200 : 503;
      res.end(JSON.stringify({ ready: ok, checks }));
      return;
    }
    res.end(
      JSON.stringify({
        status: ok ? 'healthy' : 'degraded',
        at: new Date().toISOString(),
        database: services.db.kind,
        bus: config.REDIS_URL ? 'redis' : 'in-process',
        websocketConnections: wss.clients.size,
        ingestQueue: services.ingestion.queueSize,
        checks,
      }),
    );
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return health(res, false);
    if (req.method === 'GET' && path === '/ready') return health(res, true);
    if (req.method === 'GET' && path === '/metrics') {
      metrics.outboxBacklog.set(await services.events.outboxSize().catch(() => Number.NaN));
      metrics.isLeader.set(services.processor.isLeader ? 1 : 0);
      metrics.websocketConnections.set(wss.clients.size);
      res.setHeader('content-type', metrics.registry.contentType);
      return res.end(await metrics.registry.metrics());
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = await readBodyWithin(req, config.MAX_BODY_BYTES);
      if (!body) return refuseBody(res, config.MAX_BODY_BYTES);
      const handedOn = bodyForYoga(body, req.headers['content-type']);
      if (handedOn === null) return refuseInvalidJson(res);
      (req as IncomingMessage & { body?: unknown }).body = handedOn;
    }
    return yoga(req, res);
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  // maxPayload: a larger message closes the socket with 1009 (Message Too Big) before it is buffered whole.
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: config.MAX_BODY_BYTES });

  useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      execute: (args) => (args.rootValue as { execute: (a: unknown) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => unknown }).subscribe(args) as never,
      // Authenticate once per connection; returning false closes the socket with 4403 Forbidden.
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        const key = typeof header === 'string' ? bearerKey(header) : null;
        let principal: Principal | null;
        try {
          principal = key ? await authenticate(key, randomUUID()) : null;
        } catch {
          ctx.extra.socket.close(SecurityCloseCode.TryAgainLater, 'the API key store is unavailable; retry later');
          return false;
        }
        if (!principal) return false;
        if (!connections.admit(principal.keyId, ctx.extra.socket)) {
          // Closed with our own code first; graphql-ws's 4403 for `false` then finds the socket closing already.
          ctx.extra.socket.close(SecurityCloseCode.TooManyConnections, `at most ${config.MAX_CONNECTIONS_PER_KEY} connections per API key`);
          return false;
        }
        ctx.extra.principal = principal;
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        // graphql-ws has already registered this operation, so the count includes it.
        if (Object.keys(ctx.subscriptions).length > config.MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return [apiError('RATE_LIMITED', `at most ${config.MAX_SUBSCRIPTIONS_PER_CONNECTION} operations may run at once on one connection`)];
        }
        const { schema: envelopedSchema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          principal: ctx.extra.principal ?? null,
        });
        let document: ReturnType<typeof parse>;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [apiError('BAD_USER_INPUT', (error as Error).message)];
        }
        let errors: readonly GraphQLError[];
        try {
          errors = validate(envelopedSchema, document);
        } catch (error) {
          // graphql-armor's limits throw their GraphQLError out of validation instead of reporting it.
          if ((error as Error).name !== 'GraphQLError') throw error;
          errors = [error as GraphQLError];
        }
        if (errors.length > 0) {
          return errors.map((e: GraphQLError) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }));
        }
        const operation = getOperationAST(document, payload.operationName);
        const rootField = operation?.selectionSet.selections[0];
        if (operation?.operation === 'subscription' && rootField?.kind === 'Field' && COALESCIBLE_FIELDS.has(rootField.name.value)) {
          outboundGuards.get(ctx.extra.socket)?.coalesce(id);
        }
        return {
          schema: envelopedSchema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        withContractCodes((result as { errors?: GraphQLError[] }).errors);
      },
      onComplete: (ctx, id) => {
        outboundGuards.get(ctx.extra.socket)?.forget(id);
      },
      // Never put an internal error's message in a close reason: it may name hosts, paths or worse.
      isProd: true,
    },
    wss,
  );

  wss.on('connection', (socket: WebSocket) => {
    // A socket error is the client's doing (an oversized or malformed frame): ws has already closed the socket with
    // the code that says so (1009, 1002). graphql-ws's own listener would print it to the console as an internal
    // error, so a debug log replaces it.
    socket.removeAllListeners('error');
    socket.on('error', (error) => logger.debug({ err: error }, 'WebSocket protocol error from a client'));
    // Installed before any message can arrive: graphql-ws sends nothing until connection_init.
    outboundGuards.set(
      socket,
      guardOutbound(socket, {
        coalesceBytes: config.WS_COALESCE_BYTES,
        maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
        onSlowConsumer: () => logger.warn('closed a WebSocket client too slow to keep up'),
      }),
    );
    metrics.websocketConnections.inc();
    socket.once('close', () => metrics.websocketConnections.dec());
  });

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
