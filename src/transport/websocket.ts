// graphql-ws on the server's /graphql path. Every operation runs through yoga.getEnveloped, so WebSocket traffic
// gets the plugins, context, limits and validation HTTP gets. Authentication happens once per connection.
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { GraphQLError, getOperationAST } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import { bearerKey, type Principal } from '../auth/keys.js';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import { apiError, withContractCodes } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { SecurityCloseCode } from '../security/close-codes.js';
import type { ConnectionRegistry } from '../security/connections.js';
import { COALESCIBLE_FIELDS, guardOutbound, type OutboundGuard } from '../security/outbound.js';

type SocketExtra = {
  principal?: Principal;
};

export interface WebSocketOptions {
  server: Server;
  // biome-ignore lint: yoga's server context type is not ours to name
  yoga: YogaServerInstance<any, Context>;
  config: Config;
  logger: Logger;
  connections: ConnectionRegistry;
  /** Rejects with UNAVAILABLE when keys cannot be checked. */
  authenticate(key: string, requestId: string): Promise<Principal | null>;
}

export function attachWebSocket({
  server,
  yoga,
  config,
  logger,
  connections,
  authenticate,
}: WebSocketOptions): WebSocketServer {
  // maxPayload: a larger message closes the socket with 1009 (Message Too Big) before it is buffered whole.
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: config.MAX_BODY_BYTES });
  const outboundGuards = new WeakMap<WebSocket, OutboundGuard>();

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
          ctx.extra.socket.close(
            SecurityCloseCode.TooManyConnections,
            `at most ${config.MAX_CONNECTIONS_PER_KEY} connections per API key`,
          );
          return false;
        }
        ctx.extra.principal = principal;
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        // graphql-ws has already registered this operation, so the count includes it.
        if (Object.keys(ctx.subscriptions).length > config.MAX_SUBSCRIPTIONS_PER_CONNECTION) {
          return [
            apiError(
              'RATE_LIMITED',
              `at most ${config.MAX_SUBSCRIPTIONS_PER_CONNECTION} operations may run at once on one connection`,
            ),
          ];
        }
        const {
          schema: envelopedSchema,
          execute,
          subscribe,
          contextFactory,
          parse,
          validate,
        } = yoga.getEnveloped({
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
          return errors.map(
            (e: GraphQLError) =>
              new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'BAD_USER_INPUT' } }),
          );
        }
        const operation = getOperationAST(document, payload.operationName);
        const rootField = operation?.selectionSet.selections[0];
        if (
          operation?.operation === 'subscription' &&
          rootField?.kind === 'Field' &&
          COALESCIBLE_FIELDS.has(rootField.name.value)
        ) {
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
  });

  return wss;
}
