// Events as the API accepts them: validation of publish inputs is pure and all-or-nothing.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { EventType } from '../generated/prisma/enums.js';
import { isUuid } from '../ids.js';
import { isPlainObject } from '../json.js';

export type { EventType };

export interface PublishEventInput {
  id?: string | null;
  type: EventType;
  timestamp?: Date | null;
  data: unknown;
}

interface EventFields {
  id: string;
  type: EventType;
  timestamp: Date;
  data: Record<string, unknown>;
}

export interface NewEvent extends EventFields {
  /** `data` as JSON, serialised once by validation (which needs its size) and stored as it is. */
  dataJson: string;
}

export interface StoredEvent extends EventFields {
  seq: bigint;
  receivedAt: Date;
}

export interface EventLimits {
  maxBatchSize: number;
  maxFutureSkewMs: number;
  maxEventBytes: number;
  /** Deepest nesting of `data` (MAX_EVENT_DEPTH): deeper is refused before serialising it could exhaust the stack. */
  maxDepth: number;
}

/** The publishing limits a deployment configured. */
export function eventLimitsOf(
  config: Pick<Config, 'MAX_BATCH_SIZE' | 'MAX_FUTURE_SKEW_MS' | 'MAX_EVENT_BYTES' | 'MAX_EVENT_DEPTH'>,
): EventLimits {
  return {
    maxBatchSize: config.MAX_BATCH_SIZE,
    maxFutureSkewMs: config.MAX_FUTURE_SKEW_MS,
    maxEventBytes: config.MAX_EVENT_BYTES,
    maxDepth: config.MAX_EVENT_DEPTH,
  };
}

export type Validation = { ok: true; events: NewEvent[] } | { ok: false; index: number | null; problem: string };

/** How deeply `value` nests, counted without recursion (a hostile document must not exhaust the stack), up to `cap`. */
function nestingDepth(value: unknown, cap: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item !== 'object' || item === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > cap) return deepest;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Text Postgres' jsonb refuses although JSON allows it: the NUL character and unpaired surrogates. JSON.stringify
 * writes exactly these as \u escapes (paired surrogates and all else come out as they are), so the serialised data
 * shows them as an escape not itself escaped by a backslash.
 */
const UNSTORABLE_TEXT = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** The event's data as JSON when it is acceptable, else what is wrong with it. */
function check(input: PublishEventInput, now: number, limits: EventLimits): { problem: string } | { dataJson: string } {
  if (input.id != null && !isUuid(input.id)) return { problem: `id "${input.id.slice(0, 64)}" is not a UUID` };
  if (!isPlainObject(input.data)) return { problem: 'data must be a JSON object' };
  if (nestingDepth(input.data, limits.maxDepth) > limits.maxDepth) {
    return { problem: `data is nested more than ${limits.maxDepth} levels deep` };
  }
  const dataJson = JSON.stringify(input.data);
  const bytes = Buffer.byteLength(dataJson);
  if (bytes > limits.maxEventBytes)
    return { problem: `data is ${bytes} bytes, more than the limit of ${limits.maxEventBytes}` };
  if (UNSTORABLE_TEXT.test(dataJson)) {
    return { problem: 'data holds a NUL character or an unpaired surrogate, which cannot be stored' };
  }
  const ts = input.timestamp?.getTime();
  if (ts !== undefined && ts > now + limits.maxFutureSkewMs) {
    const minutes = limits.maxFutureSkewMs / 60_000;
    return { problem: `timestamp ${input.timestamp?.toISOString()} is more than ${minutes} minutes in the future` };
  }
  return { dataJson };
}

/** Validates a whole batch: either every event is good, or the first bad one is named and none is accepted. */
export function validateBatch(inputs: PublishEventInput[], now: number, limits: EventLimits): Validation {
  if (inputs.length > limits.maxBatchSize) {
    return {
      ok: false,
      index: null,
      problem: `a batch holds at most ${limits.maxBatchSize} events, got ${inputs.length}`,
    };
  }
  const events: NewEvent[] = [];
  for (const [index, input] of inputs.entries()) {
    const checked = check(input, now, limits);
    if ('problem' in checked) return { ok: false, index, problem: checked.problem };
    events.push({
      id: input.id?.toLowerCase() ?? randomUUID(),
      type: input.type,
      timestamp: input.timestamp ?? new Date(now),
      data: input.data as Record<string, unknown>,
      dataJson: checked.dataJson,
    });
  }
  return { ok: true, events };
}
