// The HTTP side of the one server: /health, /ready and /metrics, and every other request to yoga after its body
// has been read within MAX_BODY_BYTES.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { WebSocketServer } from 'ws';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import { runChecks } from '../observability/health.js';
import type { Metrics } from '../observability/metrics.js';
import { bodyForYoga, readBodyWithin, refuseBody, refuseInvalidJson } from '../security/body-limit.js';
import type { Services } from '../services.js';

const HEALTH_TIMEOUT_MS = 2_000; // a dependency slower than this is reported unhealthy

export interface HttpHandlerOptions {
  // biome-ignore lint: yoga's server context type is not ours to name
  yoga: YogaServerInstance<any, Context>;
  services: Services;
  config: Config;
  metrics: Metrics;
  wss: WebSocketServer;
}

export function createHttpHandler({ yoga, services, config, metrics, wss }: HttpHandlerOptions) {
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

  return async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return health(res, false);
    if (req.method === 'GET' && path === '/ready') return health(res, true);
    if (req.method === 'GET' && path === '/metrics') {
      metrics.outboxBacklog.set(await services.events.outboxSize().catch(() => Number.NaN));
      metrics.isLeader.set(services.processor.isLeader ? 1 : 0);
      metrics.websocketConnections.set(wss.clients.size);
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
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
