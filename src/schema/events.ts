// Event, its history connection, publishing, and the eventPublished subscription.
import { builder } from '../builder.js';
import { busIterator } from '../bus/subscription.js';
import type { EventMessage } from '../bus/topics.js';
import { badInput } from '../errors.js';
import type { EventType, StoredEvent } from '../events/model.js';
import { EventType as EventTypes } from '../generated/prisma/enums.js';
import { isUuid } from '../ids.js';

export const EventTypeEnum = builder.enumType('EventType', { values: Object.values(EventTypes) });

export function fromEventMessage(message: EventMessage): StoredEvent {
  return {
    id: message.id,
    seq: BigInt(message.seq),
    type: message.type as EventType,
    timestamp: new Date(message.timestamp),
    receivedAt: new Date(message.receivedAt),
    data: message.data,
  };
}

export const EventRef = builder.objectRef<StoredEvent>('Event').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.timestamp }),
    receivedAt: t.field({ type: 'DateTime', description: 'When the server accepted it', resolve: (e) => e.receivedAt }),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
  }),
});

// Cursors are opaque to clients; inside they are the (timestamp, seq) key the history is ordered by.
export function encodeEventCursor(event: StoredEvent): string {
  return Buffer.from(`${event.timestamp.getTime()}:${event.seq}`).toString('base64url');
}

export function decodeEventCursor(cursor: string): { timestamp: Date; seq: bigint } {
  const match = /^(-?\d{1,15}):(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badInput(`after: "${cursor.slice(0, 64)}" is not a cursor this API gave out`);
  return { timestamp: new Date(Number(match[1])), seq: BigInt(match[2] as string) };
}

interface Edge {
  cursor: string;
  node: StoredEvent;
}
interface EventPage {
  edges: Edge[];
  hasNextPage: boolean;
}

export const PageInfoRef = builder.objectRef<{
  hasNextPage: boolean;
  endCursor: string | null;
  startCursor: string | null;
}>('PageInfo');
PageInfoRef.implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.boolean({
      description: 'Always false: pages are read forward from newest.',
      resolve: () => false,
    }),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

export function pageInfoOf(edges: { cursor: string }[], hasNextPage: boolean) {
  return { hasNextPage, startCursor: edges[0]?.cursor ?? null, endCursor: edges[edges.length - 1]?.cursor ?? null };
}

const EventEdge = builder.objectRef<Edge>('EventEdge').implement({
  fields: (t) => ({ cursor: t.exposeString('cursor'), node: t.field({ type: EventRef, resolve: (e) => e.node }) }),
});

const EventConnection = builder.objectRef<EventPage>('EventConnection').implement({
  fields: (t) => ({
    edges: t.field({ type: [EventEdge], resolve: (p) => p.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (p) => pageInfoOf(p.edges, p.hasNextPage) }),
  }),
});

export function checkPageSize(first: number, max: number): void {
  if (first < 1 || first > max) throw badInput(`first must be between 1 and ${max}, got ${first}`);
}

builder.queryFields((t) => ({
  events: t.field({
    type: EventConnection,
    description: 'Event history, newest first (by timestamp, then arrival).',
    authScopes: { viewer: true },
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      types: t.arg({ type: [EventTypeEnum] }),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
    },
    resolve: async (_root, args, { services }) => {
      const first = args.first ?? 50;
      checkPageSize(first, services.config.MAX_PAGE_SIZE);
      const rows = await services.events.page({
        first: first + 1,
        after: args.after ? decodeEventCursor(args.after) : null,
        types: args.types,
        since: args.since,
        until: args.until,
      });
      const page = rows.slice(0, first);
      return {
        edges: page.map((node) => ({ cursor: encodeEventCursor(node), node })),
        hasNextPage: rows.length > first,
      };
    },
  }),
  event: t.field({
    type: EventRef,
    nullable: true,
    authScopes: { viewer: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { loaders }) => (isUuid(String(id)) ? loaders.event.load(String(id).toLowerCase()) : null),
  }),
}));

const PublishEventInput = builder.inputType('PublishEventInput', {
  fields: (t) => ({
    id: t.id({ description: 'Optional idempotency key (UUID): an id already stored is not stored again.' }),
    type: t.field({ type: EventTypeEnum, required: true }),
    timestamp: t.field({ type: 'DateTime', description: 'Event time; defaults to the time received.' }),
    data: t.field({ type: 'JSON', required: true }),
  }),
});

const PublishEventsPayload = builder
  .objectRef<{ accepted: number; duplicates: number; ids: string[] }>('PublishEventsPayload')
  .implement({
    fields: (t) => ({
      accepted: t.exposeInt('accepted'),
      duplicates: t.exposeInt('duplicates'),
      ids: t.exposeIDList('ids'),
    }),
  });

function toInput(input: { id?: string | number | null; type: EventType; timestamp?: Date | null; data?: unknown }) {
  return {
    id: input.id == null ? null : String(input.id),
    type: input.type,
    timestamp: input.timestamp,
    data: input.data,
  };
}

builder.mutationFields((t) => ({
  publishEvent: t.field({
    type: EventRef,
    authScopes: { publisher: true },
    args: { input: t.arg({ type: PublishEventInput, required: true }) },
    resolve: async (_root, { input }, { services }) => {
      const { ids } = await services.ingestion.publish([toInput(input)]);
      const [event] = await services.events.findByIds(ids);
      if (!event) throw new Error(`event ${ids[0]} was acknowledged but cannot be read back`);
      return event;
    },
  }),
  publishEvents: t.field({
    type: PublishEventsPayload,
    authScopes: { publisher: true },
    args: { inputs: t.arg({ type: [PublishEventInput], required: true }) },
    resolve: (_root, { inputs }, { services }) => services.ingestion.publish(inputs.map(toInput)),
  }),
}));

builder.subscriptionFields((t) => ({
  eventPublished: t.field({
    type: EventRef,
    authScopes: { viewer: true },
    args: { types: t.arg({ type: [EventTypeEnum] }) },
    subscribe: (_root, { types }, { services }) => {
      const wanted = types?.length ? new Set<string>(types) : null;
      return busIterator({
        bus: services.bus,
        topic: 'events:published',
        select: ({ events }) => events.filter((e) => !wanted || wanted.has(e.type)).map(fromEventMessage),
        maxBuffered: services.config.SUBSCRIPTION_BUFFER,
      });
    },
    resolve: (event) => event,
  }),
}));
