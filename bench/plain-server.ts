// The fan-out comparison: the textbook stack, as graphql-yoga's graphql-ws example builds it — yoga, graphql-ws's
// `useServer` on `ws` with every operation going through yoga.getEnveloped, and graphql-redis-subscriptions — with a
// tiny schema of the same Event and `eventPublished(types)` subscription. It stores nothing and has no auth: each
// subscriber gets its own Redis-fed iterator, filter and execution, which is what fan-out costs in the usual design.
//
// Env: FANOUT_REDIS_URL, FANOUT_CHANNEL (events are published there as JSON). Prints `listening on <url>`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga, filter, pipe } from 'graphql-yoga';
import { Redis } from 'ioredis';
import { WebSocketServer } from 'ws';
import type { FanoutEvent } from './fanout-protocol.js';

const redisUrl = process.env.FANOUT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const channel = process.env.FANOUT_CHANNEL;
if (!channel) throw new Error('FANOUT_CHANNEL is required');

// As graphql-redis-subscriptions asks: separate connections; no ready check on the subscriber, whose INFO after a
// reconnect would meet a connection already back in subscriber mode.
const subscriber = new Redis(redisUrl, { enableReadyCheck: false, maxRetriesPerRequest: null });
const publisher = new Redis(redisUrl);
let stopping = false;
for (const connection of [subscriber, publisher])
  connection.on('error', (error: Error) => {
    if (!stopping) console.error('plain server: Redis:', error.message);
  });
subscriber.on('reconnecting', () => console.error('plain server: Redis subscriber reconnecting'));
const pubsub = new RedisPubSub({ publisher, subscriber });

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    scalar DateTime
    scalar JSON
    enum EventType {
      ALERT_TRIGGERED
      ANOMALY_DETECTED
      BENCHMARK_COMPLETED
      COMPETITIVE_UPDATE
      INSIGHT_GENERATED
      PERFORMANCE_METRIC
    }
    type Event {
      id: ID!
      type: EventType!
      timestamp: DateTime!
      receivedAt: DateTime!
      data: JSON!
    }
    type Query {
      ok: Boolean!
    }
    type Subscription {
      eventPublished(types: [EventType!]): Event
    }
  `,
  resolvers: {
    DateTime: DateTimeResolver,
    JSON: JSONResolver,
    Query: { ok: () => true },
    Subscription: {
      eventPublished: {
        subscribe: (_root: unknown, { types }: { types?: string[] | null }) =>
          pipe(
            pubsub.asyncIterator<FanoutEvent>(channel),
            filter((event: FanoutEvent) => !types || types.includes(event.type)),
          ),
        resolve: (event: FanoutEvent) => event,
      },
    },
  },
});

const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', logging: false, graphiql: false });
const http = createServer(yoga);
const wss = new WebSocketServer({ server: http, path: yoga.graphqlEndpoint });

type EnvelopedRoot = Pick<ReturnType<typeof yoga.getEnveloped>, 'execute' | 'subscribe'>;

const disposeWs = useServer(
  {
    execute: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args: ExecutionArgs) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
      });
      const document = parse(params.query);
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      return {
        schema,
        operationName: params.operationName,
        document,
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe } satisfies EnvelopedRoot,
      };
    },
  },
  wss,
);

http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  process.stdout.write(`plain server listening on http://127.0.0.1:${port}/graphql\n`);
});

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', async () => {
  stopping = true;
  // Sockets first (their subscriptions unsubscribe from Redis as they end), then Redis.
  try {
    await disposeWs.dispose();
    await pubsub.close();
  } finally {
    process.exit(0);
  }
});
