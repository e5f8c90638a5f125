// graphql-ws on the server's /graphql path. Every operation runs through yoga.getEnveloped, so WebSocket traffic
// gets the plugins, context, limits and validation HTTP gets. Authentication happens once per connection.
import type { Server } from 'node:http';
import { type ExecutionArgs, type ExecutionResult, type GraphQLError, getOperationAST } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { bearerKey, type Principal } from '../auth/keys.js';
import type { ApiKeyService } from '../auth/service.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { SecurityCloseCode } from '../security/close-codes.js';
import type { ConnectionRegistry } from '../security/connections.js';
import { COALESCIBLE_FIELDS, guardOutbound, type OutboundGuard } from '../security/outbound.js';
import { createMaskError, graphQLError, MASKED_MESSAGE } from './errors.js';
import type { YogaServer } from './http.js';

type SocketExtra = {
  principal?: Principal;
};

type Enveloped = ReturnType<YogaServer['getEnveloped']>;

/** yoga's own execute and subscribe for the operation, handed from onSubscribe to graphql-ws as its root value. */
interface EnvelopedRoot {
  execute: Enveloped['execute'];
  subscribe: Enveloped['subscribe'];
}

export interface WebSocketOptions {
  server: Server;
  yoga: YogaServer;
  config: Config;
  logger: Logger;
  connections: ConnectionRegistry;
  apiKeys: ApiKeyService;
}

export function attachWebSocket({
  server,
  yoga,
  config,
  logger,
  connections,
  apiKeys,
}: WebSocketOptions): WebSocketServer {
  // maxPayload: a larger message closes the socket with 1009 (Message Too Big) before it is buffered whole.
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: config.MAX_BODY_BYTES });
  const outboundGuards = new WeakMap<WebSocket, OutboundGuard>();
  const maskError = createMaskError(logger);

  /**
   * Runs yoga's execute or subscribe. What a plugin throws (rather than reports in the result) is answered as an
   * error result, masked like a resolver's, instead of graphql-ws closing the whole socket with 4500.
   */
  async function enveloped(
    args: ExecutionArgs,
    run: (root: EnvelopedRoot) => unknown,
  ): Promise<ExecutionResult | AsyncIterable<ExecutionResult>> {
    try {
      return (await run(args.rootValue as EnvelopedRoot)) as ExecutionResult | AsyncIterable<ExecutionResult>;
    } catch (error) {
      return { errors: [maskError(error, MASKED_MESSAGE)] };
    }
  }

  useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      execute: (args) => enveloped(args, (root) => root.execute(args)),
      subscribe: (args) => enveloped(args, (root) => root.subscribe(args)),
      // Authenticate once per connection; returning false closes the socket with 4403 Forbidden.
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.authorization;
        const key = typeof header === 'string' ? bearerKey(header) : null;
        let principal: Principal | null;
        try {
          principal = key ? await apiKeys.authenticate(key) : null;
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
            graphQLError(
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
        // Errors returned here reach the client through onError, which codes them.
        let document: ReturnType<typeof parse>;
        let errors: readonly GraphQLError[];
        try {
          document = parse(payload.query);
          // graphql-armor's limits throw their GraphQLError out of validation instead of reporting it.
          errors = validate(envelopedSchema, document);
        } catch (error) {
          return [maskError(error, MASKED_MESSAGE)];
        }
        if (errors.length > 0) return [...errors];
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
          rootValue: { execute, subscribe } satisfies EnvelopedRoot,
        };
      },
      // Execution results are masked by yoga's envelop already; `error` messages (refusals, and errors a
      // subscription's stream throws, such as OVERLOADED) are masked here, so they carry the contract's codes too.
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => maskError(error, MASKED_MESSAGE)),
      onComplete: (ctx, id) => {
        // graphql-ws has already removed an operation the client completed, and not yet one that ended here.
        outboundGuards.get(ctx.extra.socket)?.forget(id, { dropHeld: !(id in ctx.subscriptions) });
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
