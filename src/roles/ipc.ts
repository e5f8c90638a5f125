// Asks and notices between a cluster's primary and its workers, over node:cluster's IPC channel. An ask is answered
// once, or fails after a time limit: the other side may be busy or gone, and whoever asked must not wait for it
// forever. The channel keeps node's default JSON serialization: with round-robin scheduling the primary hands every
// new connection to a worker over it, and the advanced (structured clone) serialization allocated native buffers for
// each of those messages, about 30 MB of the primary's resident memory after 10,000 connections. Answers are JSON
// that keeps what metrics hold and JSON does not (NaN, ±Infinity).
import type { ProcessingStatus } from '../observability/instance.js';
import type { MetricsJson } from '../observability/metrics.js';

/** What a worker asks its primary, and the answer. */
export interface WorkerAsks {
  /** Prometheus text for every process of the instance. */
  instanceMetrics: string;
  /** The processing role's status; fails while it is not running. */
  processingStatus: ProcessingStatus;
}

/** What the primary asks a worker, and the answer. */
export interface PrimaryAsks {
  /** The worker's own metrics, gauges read now. */
  localMetrics: MetricsJson;
  /** Only the processing role answers it. */
  processingStatus: ProcessingStatus;
}

/** Told, not asked: a worker is ready (a serving one with the URL it listens on). */
export type Notice = { name: 'ready'; url: string | null };

export interface Channel {
  send(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
}

type Envelope =
  | { jackdaw: 'ask'; id: number; name: string }
  | { jackdaw: 'answer'; id: number; value?: unknown; error?: string }
  | { jackdaw: 'notice'; notice: Notice };

function isEnvelope(message: unknown): message is Envelope {
  return typeof message === 'object' && message !== null && 'jackdaw' in message;
}

const NON_FINITE = '\u0000number:';

/** An answer's value as JSON text, its non-finite numbers kept. */
export function encodeValue(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === 'number' && !Number.isFinite(v) ? `${NON_FINITE}${v}` : v));
}

export function decodeValue(text: string): unknown {
  return JSON.parse(text, (_key, v) =>
    typeof v === 'string' && v.startsWith(NON_FINITE) ? Number(v.slice(NON_FINITE.length)) : v,
  );
}

export type Answerers<In> = { [K in keyof In]: () => Promise<In[K]> | In[K] };

export interface Peer<Out> {
  ask<K extends keyof Out & string>(name: K): Promise<Out[K]>;
  notify(notice: Notice): void;
  /** Fails every ask still waiting: the other side is gone. */
  close(reason: string): void;
}

export interface PeerOptions<In> {
  answerers: Answerers<In>;
  onNotice?(notice: Notice): void;
  /** How long an ask waits for its answer. */
  timeoutMs: number;
}

export function connect<Out, In>(channel: Channel, { answerers, onNotice, timeoutMs }: PeerOptions<In>): Peer<Out> {
  let nextId = 0;
  const waiting = new Map<number, { settle: (answer: { value?: unknown; error?: string }) => void }>();

  async function answer(id: number, name: string): Promise<void> {
    try {
      if (!Object.hasOwn(answerers, name)) throw new Error(`unknown ask: ${name}`);
      const value = await answerers[name as keyof In]();
      channel.send({
        jackdaw: 'answer',
        id,
        value: value === undefined ? undefined : encodeValue(value),
      } satisfies Envelope);
    } catch (error) {
      channel.send({ jackdaw: 'answer', id, error: (error as Error).message } satisfies Envelope);
    }
  }

  channel.onMessage((message) => {
    if (!isEnvelope(message)) return;
    if (message.jackdaw === 'ask') void answer(message.id, message.name);
    else if (message.jackdaw === 'answer')
      waiting.get(message.id)?.settle({
        error: message.error,
        value: typeof message.value === 'string' ? decodeValue(message.value) : undefined,
      });
    else onNotice?.(message.notice);
  });

  return {
    ask(name) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => settle({ error: `no answer to ${name} within ${timeoutMs} ms` }), timeoutMs);
        function settle({ value, error }: { value?: unknown; error?: string }) {
          clearTimeout(timer);
          waiting.delete(id);
          if (error === undefined) resolve(value as Out[typeof name]);
          else reject(new Error(error));
        }
        waiting.set(id, { settle });
        channel.send({ jackdaw: 'ask', id, name } satisfies Envelope);
      });
    },
    notify(notice) {
      channel.send({ jackdaw: 'notice', notice } satisfies Envelope);
    },
    close(reason) {
      for (const { settle } of [...waiting.values()]) settle({ error: reason });
    },
  };
}
