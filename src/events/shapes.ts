// The shape of each event type's `data`, checked at publish (README "Event payloads"). Pure. Only the fields the
// server reads are typed; any other field is the publisher's own and stays allowed.
import { z } from 'zod';
import type { EventType } from '../generated/prisma/enums.js';

/** `data.labels`: names to string values (what labels mean and how many there may be is checked elsewhere). */
const labels = z.record(z.string(), z.string()).optional();
/** `data.metrics`: metric names to numbers. */
const metrics = z.record(z.string(), z.number()).optional();

export const EVENT_SHAPES = {
  PERFORMANCE_METRIC: z.looseObject({ metric_name: z.string(), value: z.number(), labels }),
  BENCHMARK_COMPLETED: z.looseObject({ metrics, success: z.boolean().optional(), labels }),
  COMPETITIVE_UPDATE: z.looseObject({ metrics, labels }),
  ANOMALY_DETECTED: z.looseObject({ labels }),
  INSIGHT_GENERATED: z.looseObject({ labels }),
  ALERT_TRIGGERED: z.looseObject({ labels }),
} satisfies Record<EventType, z.ZodType>;

/** The JSON type of a value, as a message names it. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** What a path's value should have been, in words (zod's own messages name no field). */
const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  record: 'an object',
  object: 'an object',
};

/**
 * The first field of `data` that does not fit its type's shape, as `data.<path>`, and what is wrong with it; null
 * when it fits. `data` is already known to be a JSON object of bounded size and depth.
 */
export function shapeProblem(
  type: EventType,
  data: Record<string, unknown>,
): { field: string; problem: string } | null {
  const result = EVENT_SHAPES[type].safeParse(data);
  if (result.success) return null;
  const [issue] = result.error.issues;
  if (!issue) return null;
  // Keys are the publisher's: cut short when echoed.
  const field = ['data', ...issue.path.map((key) => String(key).slice(0, 128))].join('.');
  let value: unknown = data;
  for (const key of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[key];
  if (issue.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? issue.expected;
    const got = value === undefined ? 'missing' : kindOf(value);
    return { field, problem: `${field} must be ${expected} for ${type}, got ${got}` };
  }
  return { field, problem: `${field}: ${issue.message}` };
}
