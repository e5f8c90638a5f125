// The HTTP side of the one server: yoga (GraphQL over HTTP, and the envelop that WebSocket operations run through
// too), /health, /ready and /metrics, and every other request to yoga after its body has been read within
// MAX_BODY_BYTES.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { WebSocketServer } from 'ws';
import { bearerKey, type Principal } from '../auth/keys.js';
import type { Config } from '../config.js';
import { type Context, createLoaders } from '../context.js';
import { runChecks } from '../observability/health.js';
import type { InstanceView } from '../observability/instance.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, ProcessRole } from '../observability/metrics.js';
import { schema } from '../schema/index.js';
import { bodyForYoga, readBodyWithin, refuseBody, refuseInvalidJson } from '../security/body-limit.js';
import { limitPlugins } from '../security/limits.js';
import { type RateLimitCheck, rateLimitPlugin } from '../security/rate-limit.js';
import type { Services, ServingRuntime } from '../services.js';
import { createMaskError, MASKED_MESSAGE } from './errors.js';
import { GRAPHIQL_OPTIONS } from './graphiql.js';
import { createStatusPage } from './status-page.js';

/** What the WebSocket side hands yoga for an operation: the socket's principal, authenticated once. */
export interface ServerContext {
  principal?: Principal | null;
  requestId?: string;
}

export type YogaServer = YogaServerInstance<ServerContext, Context>;

export interface YogaServerOptions {
  config: Config;
  logger: Logger;
  services: Services;
  rateLimit: RateLimitCheck | null;
}

export function createYogaServer({ config, logger, services, rateLimit }: YogaServerOptions): YogaServer {
  const maskError = createMaskError(logger);
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // GraphiQL from the installed package, not a CDN: it works behind firewalls and offline.
    renderGraphiQL,
    graphiql: GRAPHIQL_OPTIONS,
    logging: false,
    context: async (initial) => {
      let principal = initial.principal;
      const requestId = initial.requestId ?? randomUUID();
      if (principal === undefined) {
        const key = bearerKey(initial.request?.headers.get('authorization'));
        principal = key ? await services.apiKeys.authenticate(key, requestId) : null;
      }
      return { principal, requestId, services, loaders: createLoaders(services) };
    },
    // Every error on its way out, from resolvers, plugins and parsing alike.
    maskedErrors: { maskError },
    plugins: [
      ...limitPlugins(config),
      ...(rateLimit ? [rateLimitPlugin(rateLimit)] : []),
      {
        // yoga answers validation errors without masking them; they get the contract's codes here.
        onResultProcess({ result, setResult }) {
          // One result per request: batching is off, and subscriptions (streams) are refused over HTTP.
          if (Array.isArray(result) || !('errors' in result) || !result.errors) return;
          setResult({ ...result, errors: result.errors.map((error) => maskError(error, MASKED_MESSAGE)) });
        },
      },
    ],
  });
}

const HEALTH_TIMEOUT_MS = 2_000; // a dependency slower than this is reported unhealthy

export interface HttpHandlerOptions {
  yoga: YogaServer;
  runtime: ServingRuntime;
  config: Config;
  metrics: Metrics;
  wss: WebSocketServer;
  /** The stream processor and the metrics of the whole instance, which may run in other processes. */
  instance: InstanceView;
  /** This process's role, reported by /health with its pid. */
  role: ProcessRole;
}

export function createHttpHandler({ yoga, runtime, config, metrics, wss, instance, role }: HttpHandlerOptions) {
  async function health(res: ServerResponse, readinessOnly: boolean) {
    const { ok, checks } = await runChecks(
      {
        database: () => runtime.db.ping(),
        bus: () => runtime.bus.ping(),
        ...(readinessOnly
          ? {}
          : {
              // Fails while the processing role is down (restarting): the instance is degraded, not unready.
              streamProcessor: async () => ({
                ...(await instance.processing()),
                outboxBacklog: await runtime.eventStore.outboxSize(),
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
        database: runtime.db.kind,
        bus: config.REDIS_URL ? 'redis' : 'in-process',
        // What follows is this process's (a cluster has several serving processes); /metrics adds them up.
        process: { pid: process.pid, role },
        websocketConnections: wss.clients.size,
        ingestQueue: runtime.ingestion.queueSize,
        checks,
      }),
    );
  }

  const statusPage = createStatusPage();
  return async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await statusPage(req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return health(res, false);
    if (req.method === 'GET' && path === '/ready') return health(res, true);
    if (req.method === 'GET' && path === '/metrics') {
      const text = await instance.metrics();
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(text);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const body = await readBodyWithin(req, config.MAX_BODY_BYTES);
      if (!body) return refuseBody(res, config.MAX_BODY_BYTES);
      const handedOn = bodyForYoga(body, req.headers['content-type']);
      if (handedOn === null) return refuseInvalidJson(res);
      (req as IncomingMessage & { body?: unknown }).body = handedOn;
    }
    await yoga(req, res);
  };
}
