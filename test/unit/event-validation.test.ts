import { describe, expect, it } from 'vitest';
import { type EventLimits, type PublishEventInput, validateBatch } from '../../src/events/model.js';

const limits: EventLimits = { maxBatchSize: 3, maxFutureSkewMs: 5 * 60_000, maxEventBytes: 1_000, maxDepth: 4 };
const now = Date.parse('2026-11-27T12:00:00Z');
const event = (over: Partial<PublishEventInput> = {}): PublishEventInput => ({
  type: 'ANOMALY_DETECTED',
  data: {},
  ...over,
});
const problem = (input: PublishEventInput) => {
  const result = validateBatch([event(), input], now, limits);
  return result.ok ? null : `${result.index}: ${result.problem}`;
};

describe('validateBatch', () => {
  it('should accept good events, defaulting id and timestamp', () => {
    const result = validateBatch([event({ data: { s: 'ok 😀', literal: '\\u0000' } })], now, limits);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.events[0]?.timestamp.getTime()).toBe(now);
    expect(result.events[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it.each([
    [{ data: [1] }, 'data must be a JSON object'],
    [{ data: null }, 'data must be a JSON object'],
    [{ id: 'nope' }, 'is not a UUID'],
    [{ data: { a: { b: { c: { d: {} } } } } }, 'nested more than 4 levels'],
    [{ data: { s: 'x'.repeat(2_000) } }, 'more than the limit of 1000'],
    [{ data: { s: 'a\u0000b' } }, 'NUL character'],
    [{ data: { 'k\u0000': 1 } }, 'NUL character'],
    [{ data: { s: '\ud800' } }, 'unpaired surrogate'],
    [{ timestamp: new Date(now + 6 * 60_000) }, 'in the future'],
    [{ timestamp: new Date('0000-12-31T23:59:59.999Z') }, 'outside the years 1 to 9999'],
    [{ timestamp: new Date(Number.NaN) }, 'not a valid date'],
    [{ data: { a: [[[{}]]] } }, 'nested more than 4 levels'],
  ] as [Partial<PublishEventInput>, string][])('should name event 1 and the problem for %j', (over, says) => {
    expect(problem(event(over))).toMatch(new RegExp(`^1: .*${says.replace(/[()]/g, '\\$&')}`));
  });

  it('should accept a timestamp just inside the future bound and any past one', () => {
    expect(problem(event({ timestamp: new Date(now + 5 * 60_000) }))).toBeNull();
    expect(problem(event({ timestamp: new Date(0) }))).toBeNull();
    expect(problem(event({ timestamp: new Date('0001-01-01T00:00:00.000Z') }))).toBeNull();
  });

  it('should accept data nested exactly to the limit, and count bytes, not characters, against the size limit', () => {
    expect(problem(event({ data: { a: { b: { c: {} } } } }))).toBeNull();
    expect(problem(event({ data: { a: [[{}]] } }))).toBeNull();
    // 340 three-byte characters: under 1,000 characters of JSON, over 1,000 bytes.
    expect(problem(event({ data: { s: '€'.repeat(340) } }))).toMatch(/^1: data is 1\d{3} bytes/);
    expect(problem(event({ data: { s: '€'.repeat(320) } }))).toBeNull();
  });

  it('should refuse a batch over the size limit without naming an event', () => {
    const result = validateBatch([event(), event(), event(), event()], now, limits);
    expect(result).toEqual({ ok: false, index: null, problem: 'a batch holds at most 3 events, got 4' });
  });
});
