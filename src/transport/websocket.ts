// graphql-ws on the server's /graphql path, built on graphql-ws's `makeServer` with our own `ws` adapter (as its
// `use/ws` does), so every message a client gets passes through one per-socket outbound buffer and nothing is
// patched onto a socket. Every operation runs through yoga.getEnveloped, so WebSocket traffic gets the plugins,
// context, limits and validation HTTP gets. Authentication happens once per connection. Subscriptions that declare
// sharing (schema/sharing.ts) are executed once per group of identical subscribers (shared-subscriptions.ts).
// Upgrades are taken here rather than by ws, so an address over its limits (sockets waiting for connection_init,
// upgrades per minute) is refused with 429 before any WebSocket exists.
// A connection has one principal. One opened with a browser token (auth/tokens.ts) closes with 4403 when the token
// expires, unless `refreshAuthentication` replaced it on the socket first: same subject, same subscriptions, each now
// running as the new role (a shared one moves to its new role's group; one the new role may not hold ends).
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLError,
  getArgumentValues,
  getOperationAST,
  getVariableValues,
  type OperationDefinitionNode,
  print,
} from 'graphql';
import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { type Principal, ROLE_RANK, type Role } from '../auth/keys.js';
import { type RoleNeed, requiredRole } from '../auth/required-role.js';
import type { Config } from '../config.js';
import type { Connection, Context } from '../context.js';
import { DomainError, type ErrorCode } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type SubscriptionSharing, sharingOf } from '../schema/sharing.js';
import type { AuthGate } from '../security/auth-gate.js';
import type { AddressResolver } from '../security/client-address.js';
import { SecurityCloseCode } from '../security/close-codes.js';
import type { ConnectionRegistry } from '../security/connections.js';
import { createOutbound, type Outbound } from '../security/outbound.js';
import { PendingSockets } from '../security/pending-sockets.js';
import type { RateLimitCheck, RateLimiter } from '../security/rate-limit.js';
import { createMaskError, graphQLError, MASKED_MESSAGE } from './errors.js';
import type { YogaServer } from './http.js';
import { KeepAlive } from './keep-alive.js';
import { SharedSubscriptions } from './shared-subscriptions.js';
import { type SwitchableStream, switchableStream } from './switchable-stream.js';

/** The close reason of a socket whose token ran out (code 4403, as for a revoked key). */
export const TOKEN_EXPIRED_REASON = 'the token expired: send refreshAuthentication before it does';

/** A running subscription, as a token refresh must re-check it. */
interface LiveSubscription {
  enveloped: Enveloped;
  operation: OperationDefinitionNode;
  document: DocumentNode;
  operationName?: string | null;
  variables: Record<string, unknown> | null | undefined;
  /** The highest role its fields need. */
  need: Readonly<RoleNeed>;
  /** The role it runs as now. */
  role: Role;
  /** Executed alone: its context, whose principal a refresh replaces. */
  context: Context | null;
  /** A member of a shared group: the group it is in. */
  shared: OperationPlan['shared'];
  /** What graphql-ws iterates; set once the subscription started. */
  stream: SwitchableStream | null;
  /** The socket's state: its principal now, which a refresh may have replaced while this one was starting. */
  extra: SocketExtra;
}

interface SocketExtra {
  socket: WebSocket;
  outbound: Outbound;
  /** The client's address (client-address.ts). */
  address: string;
  /** Stops counting the socket as waiting for authentication (PendingSockets). */
  leavePending: () => void;
  principal?: Principal;
  /** Subscriptions of this socket counted against its key's budget, by operation id. */
  counted: Set<string>;
  /** Running subscriptions by operation id. */
  live: Map<string, LiveSubscription>;
  /** Closes the socket when its token expires; replaced at each refresh. */
  expiry: NodeJS.Timeout | null;
  /** What resolvers of this socket's operations may do to it (refreshAuthentication). */
  connection: Connection;
}

type Enveloped = ReturnType<YogaServer['getEnveloped']>;

/** What onSubscribe hands graphql-ws's execute/subscribe for one operation, as its root value. */
interface OperationPlan {
  enveloped: Enveloped;
  /** Set when the subscription is executed for a group of identical subscribers. */
  shared: {
    key: string;
    snapshot: boolean;
    whole?: SubscriptionSharing['whole'];
    principal: Principal;
    id: string;
    outbound: Outbound;
  } | null;
  live: LiveSubscription | null;
}

export interface WebSocketOptions {
  server: Server;
  yoga: YogaServer;
  config: Config;
  logger: Logger;
  connections: ConnectionRegistry;
  gate: AuthGate;
  clientAddress: AddressResolver;
  /** Upgrades per address per minute (WS_CONNECTS_PER_ADDRESS_PER_MINUTE); null when unlimited. */
  connects: RateLimiter | null;
  rateLimit: RateLimitCheck | null;
  /** Told of each connection_init refused before any operation (for /metrics: errors by code). */
  onRefused?: (code: ErrorCode) => void;
}

export interface WebSocketTransport {
  wss: WebSocketServer;
  /** Sockets per address still waiting for their connection_init to be accepted (in this process). */
  pending: PendingSockets;
  shared: SharedSubscriptions;
  close(): Promise<void>;
}

/** A canonical text per document (yoga hands back the same parsed document for the same query text). */
const printed = new WeakMap<DocumentNode, string>();
/** A close reason fits in 123 bytes of UTF-8 (ws throws past it): cut short whole characters at a time. */
export function closeReason(text: string): string {
  const characters = [...text];
  while (Buffer.byteLength(characters.join('')) > 123) characters.pop();
  return characters.join('');
}

function canonical(document: DocumentNode): string {
  let text = printed.get(document);
  if (text === undefined) {
    text = print(document);
    printed.set(document, text);
  }
  return text;
}

/** Refuses an upgrade with an HTTP answer, so the client learns why (a WebSocket is never opened). */
function refuseUpgrade(socket: Duplex, status: 400 | 429, message: string, headers: Record<string, string> = {}): void {
  const code = status === 429 ? 'RATE_LIMITED' : 'BAD_USER_INPUT';
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  const lines = [
    `HTTP/1.1 ${status} ${status === 429 ? 'Too Many Requests' : 'Bad Request'}`,
    'connection: close',
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export function attachWebSocket(options: WebSocketOptions): WebSocketTransport {
  const { server, yoga, config, logger, connections, gate, clientAddress, connects, rateLimit } = options;
  // maxPayload: a larger message closes the socket with 1009 (Message Too Big) before it is buffered whole.
  const wss = new WebSocketServer({
    noServer: true,
    path: '/graphql',
    maxPayload: config.MAX_BODY_BYTES,
    handleProtocols,
  });
  const pending = new PendingSockets(config.MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS);
  const maskError = createMaskError(logger);
  const mask = (error: unknown) => maskError(error, MASKED_MESSAGE);
  const shared = new SharedSubscriptions({ maskError: mask, logger });

  /**
   * Runs an operation. What a plugin throws (rather than reports in the result) is answered as an error result,
   * masked like a resolver's, instead of graphql-ws closing the whole socket with 4500.
   */
  async function run(
    args: ExecutionArgs,
    operation: (plan: OperationPlan) => unknown,
  ): Promise<ExecutionResult | AsyncIterable<ExecutionResult>> {
    try {
      return (await operation(args.rootValue as OperationPlan)) as ExecutionResult | AsyncIterable<ExecutionResult>;
    } catch (error) {
      return { errors: [mask(error)] };
    }
  }

  /** A group runs as its role, not as any one key: its results depend on the role alone. One envelope per role. */
  const roleEnvelopes = new Map<Principal['role'], Enveloped>();
  function roleEnvelope(role: Principal['role']): Enveloped {
    let envelope = roleEnvelopes.get(role);
    if (!envelope) {
      envelope = yoga.getEnveloped({ principal: { keyId: '', name: `shared ${role} subscription`, role } });
      roleEnvelopes.set(role, envelope);
    }
    return envelope;
  }

  async function subscribeShared(args: ExecutionArgs, plan: OperationPlan) {
    const { enveloped, shared: group } = plan;
    if (!group) return enveloped.subscribe(args);
    // Nothing executes for a subscriber joining a group, so the per-key operation count is taken here.
    const refusal = await rateLimit?.({ principal: group.principal });
    if (refusal) return { errors: [refusal] };
    return joinGroup(args, group);
  }

  function joinGroup(args: ExecutionArgs, group: NonNullable<OperationPlan['shared']>) {
    const groupEnvelope = roleEnvelope(group.principal.role);
    const { id, outbound } = group;
    return shared.join(
      {
        key: group.key,
        schema: args.schema,
        document: args.document,
        operationName: args.operationName,
        variableValues: args.variableValues,
        context: async () => groupEnvelope.contextFactory(),
        snapshot: group.snapshot,
        whole: group.whole,
      },
      id,
      { send: (frame, snapshot, onGap) => outbound.send(frame, snapshot ? id : undefined, onGap) },
    );
  }

  /** The group of a shareable subscription: same document, same coerced variables, same role. */
  function sharingPlan(
    enveloped: Enveloped,
    operation: OperationDefinitionNode,
    document: DocumentNode,
    variables: Record<string, unknown> | null | undefined,
    principal: Principal,
  ): { key: string; snapshot: boolean; whole?: SubscriptionSharing['whole'] } | null {
    const rootField = operation.selectionSet.selections[0];
    const field =
      rootField?.kind === 'Field' && enveloped.schema.getSubscriptionType()?.getFields()[rootField.name.value];
    if (!field || rootField?.kind !== 'Field') return null;
    const sharing = sharingOf(field.extensions);
    if (!sharing) return null;
    const coerced = getVariableValues(enveloped.schema, operation.variableDefinitions ?? [], variables ?? {});
    if (coerced.errors) return null; // executed alone, so the subscriber gets graphql's own errors
    if (sharing.perSubscriberWith) {
      const args = getArgumentValues(field, rootField, coerced.coerced);
      if (args[sharing.perSubscriberWith] != null) return null;
    }
    const key = [principal.role, operation.name?.value ?? '', JSON.stringify(coerced.coerced), canonical(document)];
    return { key: key.join('\n'), snapshot: sharing.snapshot, whole: sharing.whole };
  }

  const graphqlWs = makeServer<Record<string, unknown> | undefined, SocketExtra>({
    connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
    execute: (args) => run(args, (plan) => plan.enveloped.execute(args)),
    subscribe: (args) =>
      run(args, async (plan) => {
        const result = await subscribeShared(args, plan);
        const { live } = plan;
        if (!live || !(Symbol.asyncIterator in result)) return result;
        const stream = switchableStream(result[Symbol.asyncIterator]());
        live.stream = stream;
        // Refreshed to another role while this one was starting: it runs as that role, like the others.
        const now = live.extra.principal;
        if (now && now.role !== live.role) void runAs(live, now);
        return stream;
      }),
    // Authenticate once per connection; returning false closes the socket with 4403 Forbidden.
    onConnect: async (ctx) => {
      const { socket, address } = ctx.extra;
      const header = ctx.connectionParams?.authorization;
      let principal: Principal;
      try {
        principal = await gate.authenticate(typeof header === 'string' ? header : null, address);
      } catch (error) {
        const code: ErrorCode = error instanceof DomainError ? error.code : 'UNAVAILABLE';
        options.onRefused?.(code);
        if (code === 'UNAUTHENTICATED') return false;
        // A DomainError's message is written for the client (the key store's or the JWKS URL's outage, a limit);
        // a close reason holds at most 123 bytes.
        socket.close(
          SecurityCloseCode.TryAgainLater,
          error instanceof DomainError ? closeReason(error.message) : 'the API key store is unavailable; retry later',
        );
        return false;
      }
      ctx.extra.leavePending();
      if (!connections.admit(principal.keyId, socket)) {
        // Closed with our own code first; graphql-ws's 4403 for `false` then finds the socket closing already.
        socket.close(
          SecurityCloseCode.TooManyConnections,
          `at most ${config.MAX_CONNECTIONS_PER_KEY} connections per API key or token subject`,
        );
        return false;
      }
      ctx.extra.principal = principal;
      watchExpiry(ctx.extra);
      return true;
    },
    onSubscribe: async (ctx, id, payload) => {
      const { principal, socket, outbound } = ctx.extra;
      // graphql-ws has already registered this operation, so the count includes it.
      if (Object.keys(ctx.subscriptions).length > config.MAX_SUBSCRIPTIONS_PER_CONNECTION) {
        return [
          graphQLError(
            'RATE_LIMITED',
            `at most ${config.MAX_SUBSCRIPTIONS_PER_CONNECTION} operations may run at once on one connection`,
          ),
        ];
      }
      // Written out, not `{ ...ctx, more }`: V8 gives every such spread object a shape of its own, and every plugin
      // reading this context then missed its inline caches, on each of 10,000 subscribes.
      const enveloped = yoga.getEnveloped({
        socket,
        params: payload,
        principal: principal ?? null,
        clientAddress: ctx.extra.address,
        connection: ctx.extra.connection,
      });
      // Errors returned here reach the client through onError, which codes them.
      let document: DocumentNode;
      let errors: readonly GraphQLError[];
      try {
        document = enveloped.parse(payload.query);
        // graphql-armor's limits throw their GraphQLError out of validation instead of reporting it.
        errors = enveloped.validate(enveloped.schema, document);
      } catch (error) {
        return [mask(error)];
      }
      if (errors.length > 0) return [...errors];
      const operation = getOperationAST(document, payload.operationName);
      const sharing =
        config.WS_SHARED_EXECUTION && operation?.operation === 'subscription' && principal
          ? sharingPlan(enveloped, operation, document, payload.variables, principal)
          : null;
      if (operation?.operation === 'subscription' && principal) {
        if (!connections.admitSubscription(principal.keyId)) {
          return [
            graphQLError(
              'RATE_LIMITED',
              `at most ${config.MAX_SUBSCRIPTIONS_PER_KEY} subscriptions may run at once with one API key or token subject on this process`,
            ),
          ];
        }
        ctx.extra.counted.add(id);
      }
      const plan: OperationPlan = {
        enveloped,
        // Written out, not spread: V8 gives every `{ ...sharing, more }` a shape of its own, and a load from 10,000
        // shapes misses the inline cache (BENCHMARKS.md, "Fan-out: the cost per delivery").
        shared:
          sharing && principal
            ? { key: sharing.key, snapshot: sharing.snapshot, whole: sharing.whole, principal, id, outbound }
            : null,
        live: null,
      };
      // A shared subscription executes with its group's contexts, one per event.
      const contextValue = plan.shared ? {} : await enveloped.contextFactory();
      if (operation?.operation === 'subscription' && principal) {
        plan.live = {
          enveloped,
          operation,
          document,
          operationName: payload.operationName,
          variables: payload.variables,
          need: requiredRole(enveloped.schema, document),
          role: principal.role,
          context: plan.shared ? null : (contextValue as Context),
          shared: plan.shared,
          extra: ctx.extra,
          stream: null,
        };
        ctx.extra.live.set(id, plan.live);
      }
      return {
        schema: enveloped.schema,
        operationName: payload.operationName,
        document,
        variableValues: payload.variables,
        contextValue,
        rootValue: plan,
      };
    },
    // Execution results are masked by yoga's envelop (shared ones by their group); `error` messages (refusals, and
    // errors a subscription's stream throws, such as OVERLOADED) are masked here, so they carry the contract's codes.
    onError: (_ctx, _id, _payload, errors) => errors.map(mask),
    // Whatever a closing socket's subscriptions have not released through onComplete yet.
    onClose: (ctx) => {
      const { principal, counted } = ctx.extra;
      if (principal) for (const _ of counted) connections.releaseSubscription(principal.keyId);
      counted.clear();
      ctx.extra.live.clear();
    },
    onComplete: (ctx, id) => {
      const { principal, counted, outbound } = ctx.extra;
      if (principal && counted.delete(id)) connections.releaseSubscription(principal.keyId);
      ctx.extra.live.delete(id);
      // graphql-ws has already removed an operation the client completed, and not yet one that ended here: an
      // update still held for a completed one must not follow the client's `complete`.
      if (!(id in ctx.subscriptions)) outbound.drop(id);
    },
  });

  const keepAlive = new KeepAlive(config.WS_KEEPALIVE_MS);

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A client that resets mid-upgrade must not take the process down.
    socket.on('error', (error) => logger.debug({ err: error }, 'connection error during a WebSocket upgrade'));
    if (!wss.shouldHandle(request)) {
      refuseUpgrade(socket, 400, 'WebSocket connections are served on /graphql');
      return;
    }
    const address = clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for']);
    const release = pending.admit(address);
    if (!release) {
      refuseUpgrade(
        socket,
        429,
        `at most ${config.MAX_UNAUTHENTICATED_SOCKETS_PER_ADDRESS} WebSockets per address may wait for connection_init`,
      );
      return;
    }
    // Counted from here until its connection_init is accepted, or until the TCP connection closes, whichever first.
    socket.once('close', release);
    void (async () => {
      const waitMs = await connects?.consume(address);
      if (waitMs != null) {
        release();
        refuseUpgrade(
          socket,
          429,
          `more than ${config.WS_CONNECTS_PER_ADDRESS_PER_MINUTE} WebSocket connections per minute from this address`,
          { 'retry-after': String(Math.ceil(waitMs / 1000)) },
        );
        return;
      }
      if (socket.destroyed) return;
      wss.handleUpgrade(request, socket, head, (webSocket) => open(webSocket, socket, address, release));
    })().catch((error) => {
      release();
      logger.error({ err: error }, 'WebSocket upgrade failed');
      socket.destroy();
    });
  });

  // The upgrade request is not kept (its headers cost a socket about 1 KB for as long as it lives): nothing of the
  // operations on a WebSocket reads it, and the TCP connection under it is `connection`.
  function open(socket: WebSocket, connection: Duplex, address: string, release: () => void): void {
    // First, so that a socket is watched (and dropped when dead) whatever fails below.
    keepAlive.add(socket);
    // A socket error is the client's doing (an oversized or malformed frame): ws has already closed the socket with
    // the code that says so (1009, 1002).
    socket.on('error', (error) => logger.debug({ err: error }, 'WebSocket protocol error from a client'));
    // Until its key is accepted, a client may send only a little: ws would otherwise buffer a message up to
    // MAX_BODY_BYTES, and graphql-ws parse it, for anyone at all (over HTTP, the key is checked before the body).
    let unauthenticatedBytes = 0;
    const countBytes = (chunk: Buffer) => {
      unauthenticatedBytes += chunk.length;
      if (unauthenticatedBytes <= config.MAX_UNAUTHENTICATED_WS_BYTES) return;
      logger.debug({ address }, 'closed a WebSocket that sent too much before authenticating');
      socket.terminate();
    };
    connection.on('data', countBytes);
    const leavePending = () => {
      connection.off('data', countBytes);
      release();
    };
    const outbound = createOutbound(socket, {
      coalesceBytes: config.WS_COALESCE_BYTES,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      onSlowConsumer: () => logger.warn('closed a WebSocket client too slow to keep up'),
    });
    const extra: SocketExtra = {
      socket,
      outbound,
      address,
      leavePending,
      counted: new Set(),
      live: new Map(),
      expiry: null,
      connection: { refresh: (token) => refresh(extra, token) },
    };
    const closed = graphqlWs.opened(
      {
        protocol: socket.protocol,
        send: (data) => outbound.send(data),
        close: (code, reason) => socket.close(code, reason),
        // Not an async listener: graphql-ws's handling of a `subscribe` settles only when the subscription ends, and
        // an async listener awaiting it would keep its frame (the message's Buffer among it) for that long.
        onMessage: (handle) =>
          socket.on('message', (data) => {
            const failed = (error: unknown) => {
              // Never put an internal error's message in a close reason: it may name hosts, paths or worse.
              logger.error({ err: error }, 'WebSocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            };
            try {
              handle(String(data)).catch(failed);
            } catch (error) {
              failed(error);
            }
          }),
      },
      extra,
    );
    socket.once('close', (code, reason) => {
      if (extra.expiry) clearTimeout(extra.expiry);
      closed(code, String(reason)).catch((error) => logger.warn({ err: error }, 'WebSocket close handling failed'));
    });
  }

  /** Closes a token's socket once the token is past its expiry (and the clock skew tokens are allowed). */
  function watchExpiry(extra: SocketExtra): void {
    if (extra.expiry) clearTimeout(extra.expiry);
    extra.expiry = null;
    const { principal } = extra;
    if (!principal?.subject || !principal.expiresAt) return;
    const inMs = principal.expiresAt.getTime() + config.JWT_CLOCK_SKEW_S * 1000 - Date.now();
    extra.expiry = setTimeout(() => extra.socket.close(CloseCode.Forbidden, TOKEN_EXPIRED_REASON), Math.max(0, inMs));
  }

  /**
   * refreshAuthentication: the socket takes a new token of the same subject (a socket never becomes someone else;
   * an API key's socket has no token to refresh). Its subscriptions go on as the new role.
   */
  async function refresh(extra: SocketExtra, token: string): Promise<Principal> {
    const current = extra.principal;
    if (!current?.subject) {
      throw new DomainError('FORBIDDEN', 'this connection was opened with an API key: only a token can be refreshed');
    }
    const next = await gate.verifyToken(token);
    if (next.subject !== current.subject) {
      throw new DomainError(
        'FORBIDDEN',
        "the new token is for another subject than this connection's: open a new connection for it",
      );
    }
    if (extra.socket.readyState !== extra.socket.OPEN) return next;
    extra.principal = next;
    watchExpiry(extra);
    await Promise.all([...extra.live.values()].map((live) => runAs(live, next)));
    return next;
  }

  /** Moves a running subscription to another role (see moveTo); a failure to do so ends it, masked. */
  async function runAs(live: LiveSubscription, principal: Principal): Promise<void> {
    try {
      await moveTo(live, principal);
    } catch (error) {
      live.stream?.endWith({ errors: [mask(error)] });
    }
  }

  /** Moves a running subscription to another role, or ends it when that role may not read all it asks for. */
  async function moveTo(live: LiveSubscription, principal: Principal): Promise<void> {
    const { stream } = live;
    if (live.context) live.context.principal = principal;
    if (live.role === principal.role || !stream || stream.ended) return;
    if (ROLE_RANK[live.need.role] > ROLE_RANK[principal.role]) {
      const message = `the ${principal.role} role may not hold this subscription: it reads ${live.need.field}`;
      stream.endWith({ errors: [graphQLError('FORBIDDEN', message)] });
      return;
    }
    live.role = principal.role;
    const sharing =
      live.shared && sharingPlan(live.enveloped, live.operation, live.document, live.variables, principal);
    if (!live.shared || !sharing) return;
    const plan = { ...live.shared, ...sharing, principal };
    live.shared = plan;
    // Joined before the old group is left: a message may come twice at the switch, but none is lost.
    const joined = await joinGroup(
      {
        schema: live.enveloped.schema,
        document: live.document,
        operationName: live.operationName,
        variableValues: live.variables,
      },
      plan,
    );
    if (Symbol.asyncIterator in joined) stream.switchTo(joined);
    else stream.endWith(joined);
  }

  return {
    wss,
    pending,
    shared,
    async close() {
      keepAlive.close();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
