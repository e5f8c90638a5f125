// Shared execution of subscriptions. Subscribers whose results must be identical (same document, same variables,
// same role) form one group per process: each source event is executed once for the group, with a fresh context,
// serialised once, and the same bytes go to every member with its own subscription id. What a subscriber costs per
// event is then a buffer copy and a socket write, not a GraphQL execution and a JSON.stringify.
import {
  createSourceEventStream,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  execute as executeDocument,
  type GraphQLError,
  type GraphQLSchema,
} from 'graphql';
import type { LiveIterator } from '../bus/subscription.js';
import type { Logger } from '../observability/logger.js';
import { ATTR } from '../observability/tracing.js';

/** One subscriber in a group: where its frames go, and how its stream (as graphql-ws sees it) ends. */
interface Member {
  /** The frame head for this subscriber: `{"id":<id>,"type":"next","payload":`. */
  head: Buffer;
  deliver(payload: Buffer, partial: boolean): void;
  /** False while a whole message is being made for it (it joined late, or its socket dropped one): it skips events. */
  ready: boolean;
  end(): void;
  fail(error: unknown): void;
}

export interface MemberSink {
  /**
   * Sends one whole `next` frame; `snapshot` frames may be coalesced on a backed-up socket. A frame that builds on
   * the ones before comes with `onGap`, to be called if an earlier one was dropped for it.
   */
  send(frame: Buffer, snapshot: boolean, onGap?: () => void): void;
}

export interface GroupSpec {
  /** Equal keys mean equal results for every event. */
  key: string;
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  /** A fresh context for one execution (the group's role; loaders that live for one event only). */
  context: () => Promise<unknown>;
  /** Every message supersedes the previous one: a subscriber joining late gets the latest at once. */
  snapshot: boolean;
  /** Messages build on each other; the event standing alone as of one (schema/sharing.ts). */
  whole?: (event: unknown) => unknown | null;
}

interface Group {
  members: Set<Member>;
  source: AsyncIterator<unknown>;
  /** The latest payload of a snapshot group, for members who join after it was sent. */
  latest: Buffer | null;
  /** With `whole`: the latest event, and the payload of its whole version once made. */
  latestEvent: { value: unknown; whole: Promise<Buffer> | null } | null;
  execute: (rootValue: unknown) => Promise<Buffer>;
}

const TAIL = Buffer.from('}');

export interface SharedSubscriptionsOptions {
  /** Maps an error on its way to a client to a coded, masked GraphQL error (transport/errors.ts). */
  maskError: (error: unknown) => GraphQLError;
  logger: Logger;
}

export class SharedSubscriptions {
  private readonly groups = new Map<string, Group>();
  /** Groups being started: subscribers arriving meanwhile wait for the same start. */
  private readonly starting = new Map<string, Promise<Group | ExecutionResult>>();

  constructor(private readonly options: SharedSubscriptionsOptions) {}

  /** Live groups on this process (for metrics and tests). */
  get size(): number {
    return this.groups.size;
  }

  /** Members across every group. */
  get members(): number {
    let count = 0;
    for (const group of this.groups.values()) count += group.members.size;
    return count;
  }

  /**
   * Joins subscriber `id` to the group of `spec`, starting the group if there is none. Resolves with the stream
   * graphql-ws iterates for this subscriber (it yields nothing itself: frames go to `sink`), or with the errors of a
   * subscription that could not start (refused arguments, authorisation), as graphql's `subscribe` would.
   */
  async join(
    spec: GroupSpec,
    id: string,
    sink: MemberSink,
  ): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const group = this.groups.get(spec.key) ?? (await this.start(spec));
    if (!('members' in group)) return group;
    const stream = memberStream(() => this.leave(spec.key, group, member));
    const member: Member = {
      head: Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`),
      deliver: (payload, partial) =>
        sink.send(
          Buffer.concat([member.head, payload, TAIL]),
          spec.snapshot,
          partial ? () => this.sendWhole(group, member) : undefined,
        ),
      ready: true,
      end: stream.end,
      fail: stream.fail,
    };
    group.members.add(member);
    const { latest } = group;
    // After graphql-ws has registered the subscription, so the frame follows its own bookkeeping.
    if (group.latestEvent) this.sendWhole(group, member);
    else if (latest) queueMicrotask(() => group.members.has(member) && member.deliver(latest, false));
    return stream.iterator;
  }

  /**
   * Sends a member the whole version of the group's latest event, skipping events meanwhile; made again if another
   * came while it was made, so that what the member gets next builds on it.
   */
  private sendWhole(group: Group, member: Member): void {
    if (!member.ready) return; // one is being made for it already
    member.ready = false;
    const attempt = (): void => {
      const latest = group.latestEvent;
      if (!latest || !group.members.has(member)) return;
      latest.whole ??= group.execute(latest.value);
      latest.whole.then(
        (payload) => {
          if (group.latestEvent !== latest) return attempt();
          if (!group.members.has(member)) return;
          member.ready = true;
          member.deliver(payload, false);
        },
        (error) => {
          this.options.logger.warn({ err: error }, 'whole subscription message failed');
          member.fail(error);
        },
      );
    };
    queueMicrotask(attempt);
  }

  private start(spec: GroupSpec): Promise<Group | ExecutionResult> {
    let started = this.starting.get(spec.key);
    if (started) return started;
    started = this.open(spec).finally(() => this.starting.delete(spec.key));
    this.starting.set(spec.key, started);
    return started;
  }

  private async open(spec: GroupSpec): Promise<Group | ExecutionResult> {
    const args = (contextValue: unknown): ExecutionArgs => ({
      schema: spec.schema,
      document: spec.document,
      operationName: spec.operationName,
      variableValues: spec.variableValues,
      contextValue,
    });
    const source = await createSourceEventStream(args(await spec.context()));
    if (!(Symbol.asyncIterator in source)) return this.masked(source);
    // A source that can say when it is live (a bus subscription) is waited for: a member is told it joined only when
    // nothing published from then on can be missed.
    await (source as { ready?: Promise<void> }).ready;
    const execute = async (rootValue: unknown) => {
      const result = await executeDocument({ ...args(await spec.context()), rootValue });
      return Buffer.from(JSON.stringify(this.masked(result)));
    };
    const group: Group = {
      members: new Set(),
      source: source[Symbol.asyncIterator](),
      latest: null,
      latestEvent: null,
      execute,
    };
    this.groups.set(spec.key, group);
    void this.run(spec, group);
    return group;
  }

  /** Executes each source event once for the whole group and hands every member the same bytes. */
  private async run(spec: GroupSpec, group: Group): Promise<void> {
    try {
      for (;;) {
        const event = await group.source.next();
        if (event.done) break;
        // One delivery span per event for the whole group (see busIterator), not one per member.
        (group.source as Partial<LiveIterator<unknown>>).delivery?.setAttributes({
          [ATTR.members]: group.members.size,
          [ATTR.shared]: true,
        });
        // A subscription's own field resolves synchronously from its event; `await` covers the rest.
        const payload = await group.execute(event.value);
        if (spec.snapshot) group.latest = payload;
        const whole = spec.whole?.(event.value);
        const partial = whole != null;
        if (spec.whole) {
          // Set with the delivery below, in one step: a whole message made from it misses nothing delivered.
          group.latestEvent = { value: whole ?? event.value, whole: partial ? null : Promise.resolve(payload) };
        }
        for (const member of group.members) if (member.ready) member.deliver(payload, partial);
      }
      this.close(spec.key, group, (member) => member.end());
    } catch (error) {
      this.close(spec.key, group, (member) => member.fail(error));
    }
  }

  private masked(result: ExecutionResult): ExecutionResult {
    if (!result.errors) return result;
    return { ...result, errors: result.errors.map((error) => this.options.maskError(error)) };
  }

  private close(key: string, group: Group, ending: (member: Member) => void): void {
    if (this.groups.get(key) === group) this.groups.delete(key);
    const members = [...group.members];
    group.members.clear();
    for (const member of members) ending(member);
  }

  private leave(key: string, group: Group, member: Member): void {
    group.members.delete(member);
    if (group.members.size > 0 || this.groups.get(key) !== group) return;
    this.groups.delete(key);
    // The last member left: end the source, which unsubscribes it from the bus or the feed.
    group.source
      .return?.()
      .catch((error) => this.options.logger.warn({ err: error }, 'subscription source end failed'));
  }
}

/**
 * The stream graphql-ws iterates for one member: it yields nothing and settles when the group ends (complete),
 * fails (error) or the subscriber leaves (`return`, on the client's `complete` or a closed socket).
 */
function memberStream(onReturn: () => void) {
  let settled: IteratorResult<ExecutionResult> | { error: unknown } | null = null;
  let waiting: { resolve: (result: IteratorResult<ExecutionResult>) => void; reject: (error: unknown) => void } | null =
    null;
  const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };

  const settle = (outcome: IteratorResult<ExecutionResult> | { error: unknown }) => {
    if (settled) return;
    settled = outcome;
    const pending = waiting;
    waiting = null;
    if (!pending) return;
    if ('error' in outcome) pending.reject(outcome.error);
    else pending.resolve(outcome);
  };

  const iterator: AsyncIterableIterator<ExecutionResult> = {
    next() {
      const outcome = settled;
      if (outcome) {
        settled = DONE; // an error is told once; after it the stream is simply over
        return 'error' in outcome ? Promise.reject(outcome.error) : Promise.resolve(outcome);
      }
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    async return() {
      const wasLive = settled === null;
      settle(DONE);
      if (wasLive) onReturn();
      return DONE;
    },
    async throw(error: unknown) {
      await iterator.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return { iterator, end: () => settle(DONE), fail: (error: unknown) => settle({ error }) };
}
