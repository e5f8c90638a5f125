// Event, its history connection, publishing, and the eventPublished subscription.
import { builder } from '../builder.js';
import type { EventType, StoredEvent } from '../events/model.js';
import { EventType as EventTypes } from '../generated/prisma/enums.js';
import { connectionType } from './pagination.js';
import { pageRows, readCost } from './read-cost.js';
import { shared } from './sharing.js';

export const EventTypeEnum = builder.enumType('EventType', { values: Object.values(EventTypes) });

export const EventRef = builder.objectRef<StoredEvent>('Event').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.field({ type: EventTypeEnum, resolve: (e) => e.type }),
    timestamp: t.field({ type: 'DateTime', resolve: (e) => e.timestamp }),
    receivedAt: t.field({ type: 'DateTime', description: 'When the server accepted it', resolve: (e) => e.receivedAt }),
    data: t.field({ type: 'JSON', resolve: (e) => e.data }),
    cursor: t.string({
      description:
        'Where the event stands in the order events are broadcast in: `eventPublished(after:)` resumes after it. Opaque.',
      resolve: (e, _args, { services, loaders }) => services.events.cursorOfBroadcast(e) ?? loaders.eventCursor.load(e),
    }),
  }),
});

const EventConnection = connectionType('Event', EventRef);

builder.queryFields((t) => ({
  events: t.field({
    type: EventConnection,
    description: 'Event history, newest first (by timestamp, then arrival).',
    authScopes: { viewer: true },
    extensions: readCost({ rows: pageRows }),
    args: {
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
      types: t.arg({ type: [EventTypeEnum] }),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
    },
    resolve: (_root, args, { services }) => services.events.page(args),
  }),
  event: t.field({
    type: EventRef,
    nullable: true,
    authScopes: { viewer: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { loaders }) => loaders.event.load(String(id)),
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
    resolve: (_root, { input }, { services, principal }) => services.events.publishOne(toInput(input), principal),
  }),
  publishEvents: t.field({
    type: PublishEventsPayload,
    authScopes: { publisher: true },
    args: { inputs: t.arg({ type: [PublishEventInput], required: true }) },
    resolve: (_root, { inputs }, { services, principal }) => services.events.publish(inputs.map(toInput), principal),
  }),
}));

builder.subscriptionFields((t) => ({
  eventPublished: t.field({
    type: EventRef,
    extensions: shared({ snapshot: false, perSubscriberWith: 'after' }),
    description:
      "Events as they are broadcast. With `after` (an event's cursor), first every event broadcast since that one " +
      '(from storage, at most MAX_REPLAY_EVENTS), then live ones, with no gap or duplicate between them.',
    authScopes: { viewer: true },
    args: { types: t.arg({ type: [EventTypeEnum] }), after: t.arg.string() },
    subscribe: (_root, { types, after }, { services }) => services.events.subscribe(types, after),
    resolve: (event) => event,
  }),
}));
