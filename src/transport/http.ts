// The HTTP side of the one server: yoga (GraphQL over HTTP, and the envelop that WebSocket operations run through
// too), /health, /ready and /metrics, and every other request to yoga once its key has been checked (before a byte
// of its body is read: a client without a valid key costs a header parse and a cache look-up) and its body has been
// read within MAX_BODY_BYTES.
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { WebSocketServer } from 'ws';
import { bearerKey, type Principal } from '../auth/keys.js';
import { type Config, redisTargetOf } from '../config.js';
import { type Connection, type Context, createLoaders } from '../context.js';
import { DomainError } from '../errors.js';
import { graphqlMetricsPlugin } from '../observability/graphql-metrics.js';
import { runChecks } from '../observability/health.js';
import type { InstanceView } from '../observability/instance.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics, ProcessRole } from '../observability/metrics.js';
import { schema } from '../schema/index.js';
import type { AuthGate } from '../security/auth-gate.js';
import { bodyForYoga, readBodyWithin, refuseBody, refuseInvalidJson } from '../security/body-limit.js';
import type { AddressResolver } from '../security/client-address.js';
import { limitPlugins } from '../security/limits.js';
import { type RateLimitCheck, rateLimitPlugin } from '../security/rate-limit.js';
import { readBudgetPlugin } from '../security/read-budget.js';
import type { Services, ServingRuntime } from '../services.js';
import { createMaskError, MASKED_MESSAGE } from './errors.js';
import { GRAPHIQL_OPTIONS } from './graphiql.js';
import { jitPlugin } from './jit.js';
import { createStatusPage } from './status-page.js';

/** What both transports hand yoga for an operation: the principal, authenticated once before yoga sees it. */
export interface ServerContext {
  principal?: Principal | null;
  requestId?: string;
  /** The client's address (client-address.ts), for limits counted per address. */
  clientAddress?: string;
  /** The WebSocket the operation came on. */
  connection?: Connection;
}

export type YogaServer = YogaServerInstance<ServerContext, Context>;

export interface YogaServerOptions {
  config: Config;
  logger: Logger;
  services: Services;
  rateLimit: RateLimitCheck | null;
  /** Where operations, their errors and durations are counted. */
  metrics: Metrics;
}

export function createYogaServer({ config, logger, services, rateLimit, metrics }: YogaServerOptions): YogaServer {
  const maskError = createMaskError(logger);
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    // GraphiQL from the installed package, not a CDN: it works behind firewalls and offline; it opens on examples.
    graphiql: config.GRAPHIQL ? GRAPHIQL_OPTIONS : false,
    // Loaded on the first GraphiQL page, not at start: the package is a 9 MB bundle that costs each serving process
    // about 30 MB of heap as source text, which production (GraphiQL off) never uses.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    cors: corsOptions(config.CORS_ORIGINS),
    logging: false,
    // The transports authenticate (security/auth-gate.ts) and hand the principal over; none means anonymous.
    context: async (initial) => ({
      principal: initial.principal ?? null,
      connection: initial.connection ?? null,
      requestId: initial.requestId ?? randomUUID(),
      services,
      loaders: createLoaders(services),
    }),
    // Every error on its way out, from resolvers, plugins and parsing alike.
    maskedErrors: { maskError },
    // Parsed documents stay cached; a parse failure is not, so /metrics counts every unparsable operation (yoga
    // answers a cached failure before any plugin's hook can see it).
    parserAndValidationCache: { errorCache: { get: () => undefined, set: () => {} } },
    plugins: [
      // First, so that it sees the results the plugins after it stop execution with.
      graphqlMetricsPlugin(metrics, schema),
      ...limitPlugins(config),
      readBudgetPlugin(config),
      ...(rateLimit ? [rateLimitPlugin(rateLimit)] : []),
      // Last before the result step: an operation a plugin above stops never gets compiled.
      jitPlugin(),
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

/**
 * CORS_ORIGINS as yoga takes it: `*` lets any origin read answers (keys are sent as headers, never cookies, so
 * credentials are never allowed); a list lets those origins; empty lets none. An origin that is not let in gets no
 * CORS headers at all, rather than yoga's `Access-Control-Allow-Origin: null`, which a sandboxed page (whose origin
 * is "null") would match.
 */
function corsOptions(origins: string) {
  const list = origins
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0);
  if (list.length === 0) return false;
  const anyOrigin = list.includes('*');
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !(anyOrigin || list.includes(origin))) return false;
    return {
      origin: [origin],
      credentials: false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type'],
    };
  };
}

/** The HTTP status of a refusal at the door, before yoga. */
const REFUSAL_STATUS: Partial<Record<DomainError['code'], number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
};

/** Whether the request comes with a body (which a refusal leaves unread, so the connection cannot be reused). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Answers a refusal as the GraphQL error yoga would give, with its status; a body still coming is never read. */
function refuse(req: IncomingMessage, res: ServerResponse, error: DomainError): void {
  res.statusCode = REFUSAL_STATUS[error.code] ?? 400;
  res.setHeader('content-type', 'application/json');
  if (error.code === 'UNAUTHENTICATED') res.setHeader('www-authenticate', 'Bearer');
  const retryAfterMs = error.details?.retryAfterMs;
  if (typeof retryAfterMs === 'number') res.setHeader('retry-after', String(Math.ceil(retryAfterMs / 1000)));
  if (hasBody(req)) res.setHeader('connection', 'close');
  res.end(JSON.stringify({ errors: [{ message: error.message, extensions: { code: error.code, ...error.details } }] }));
}

/**
 * Requests that go to yoga without a key: CORS preflights (browsers never send credentials on them) and, when GraphiQL
 * is on, a browser asking for its page (a GET with no operation in it). Everything else, GET queries included, needs
 * a valid key.
 */
function isAnonymousAllowed(req: IncomingMessage, graphiql: boolean): boolean {
  if (req.method === 'OPTIONS') return true;
  if (!graphiql || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  return (
    req.headers.authorization === undefined &&
    (req.headers.accept ?? '').includes('text/html') &&
    !params.has('query') &&
    !params.has('extensions')
  );
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
  gate: AuthGate;
  clientAddress: AddressResolver;
}

/** The HTTP handlers: `main` for PORT, and `metricsPort` for METRICS_PORT (operations only) when it is set. */
export interface HttpHandlers {
  main(req: IncomingMessage, res: ServerResponse): Promise<void>;
  metricsPort(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Compares through digests of equal length, so the time taken says nothing of how much of the token matched. */
function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function createHttpHandler(options: HttpHandlerOptions): HttpHandlers {
  const { yoga, runtime, config, metrics, wss, instance, role, gate, clientAddress } = options;
  const production = config.NODE_ENV === 'production';

  /**
   * Whether the caller may see the instance's insides (/metrics, /health's details): with METRICS_TOKEN set, only
   * with it; without one, anyone on METRICS_PORT (a port kept off the public network) and, outside production,
   * anyone on PORT.
   */
  function mayReadInternals(req: IncomingMessage, onMetricsPort: boolean): boolean {
    if (config.METRICS_TOKEN !== undefined) {
      const given = bearerKey(req.headers.authorization);
      return given !== null && sameToken(given, config.METRICS_TOKEN);
    }
    return onMetricsPort || !production;
  }

  async function health(res: ServerResponse, readinessOnly: boolean, details: boolean) {
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
      // Check errors may name hosts and ports: only for callers who may read the internals.
      res.end(JSON.stringify(details ? { ready: ok, checks } : { ready: ok }));
      return;
    }
    const status = { status: ok ? 'healthy' : 'degraded', at: new Date().toISOString() };
    if (!details) {
      res.end(JSON.stringify(status));
      return;
    }
    res.end(
      JSON.stringify({
        ...status,
        database: runtime.db.kind,
        bus: redisTargetOf(config) ? 'redis' : 'in-process',
        // What follows is this process's (a cluster has several serving processes); /metrics adds them up.
        process: { pid: process.pid, role },
        websocketConnections: wss.clients.size,
        ingestQueue: runtime.ingestion.queueSize,
        checks,
      }),
    );
  }

  async function metricsText(req: IncomingMessage, res: ServerResponse, onMetricsPort: boolean) {
    if (!mayReadInternals(req, onMetricsPort)) {
      const configured = config.METRICS_TOKEN !== undefined;
      res.statusCode = configured ? 401 : 403;
      if (configured) res.setHeader('www-authenticate', 'Bearer');
      res.setHeader('content-type', 'text/plain');
      res.end(
        configured
          ? 'send "Authorization: Bearer <METRICS_TOKEN>"\n'
          : 'in production /metrics needs METRICS_TOKEN or METRICS_PORT\n',
      );
      return;
    }
    const text = await instance.metrics();
    res.setHeader('content-type', metrics.registry.contentType);
    res.end(text);
  }

  /** /health, /ready and /metrics; false for any other request. */
  async function operations(req: IncomingMessage, res: ServerResponse, onMetricsPort: boolean): Promise<boolean> {
    if (req.method !== 'GET') return false;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') await health(res, false, mayReadInternals(req, onMetricsPort));
    else if (path === '/ready') await health(res, true, mayReadInternals(req, onMetricsPort));
    else if (path !== '/metrics') return false;
    else if (onMetricsPort || config.METRICS_PORT === undefined) await metricsText(req, res, onMetricsPort);
    else {
      // With METRICS_PORT set, /metrics is served there only.
      res.statusCode = 404;
      res.end();
    }
    return true;
  }

  async function metricsPort(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await operations(req, res, true)) return;
    res.statusCode = 404;
    res.end();
  }

  const statusPage = createStatusPage();

  async function main(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (await operations(req, res, false)) return;
    // The status page and its assets: public, as the page asks for a key itself and sends it over graphql-ws.
    if (await statusPage(req, res)) return;
    const address = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    const requestId = randomUUID();
    let principal: Principal | null = null;
    if (!isAnonymousAllowed(req, config.GRAPHIQL)) {
      try {
        principal = await gate.authenticate(req.headers.authorization, address, requestId);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        // Refused before the body (and so the operation) is read: counted with the type unknown.
        metrics.graphqlErrors.inc({ code: error.code, type: 'unknown' });
        return refuse(req, res, error);
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
      let body: Buffer | null;
      try {
        body = await readBodyWithin(req, config.MAX_BODY_BYTES);
      } catch (error) {
        // The client went, or node cut it off past HTTP_REQUEST_TIMEOUT_MS (answering 408): nobody to answer.
        if (req.destroyed) return;
        throw error;
      }
      if (!body) return refuseBody(res, config.MAX_BODY_BYTES);
      const handedOn = bodyForYoga(body, req.headers['content-type']);
      if (handedOn === null) return refuseInvalidJson(res);
      (req as IncomingMessage & { body?: unknown }).body = handedOn;
    }
    const context: ServerContext = { principal, requestId, clientAddress: address };
    await yoga(req, res, context);
  }

  return { main, metricsPort };
}
