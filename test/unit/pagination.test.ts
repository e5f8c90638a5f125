import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/errors.js';
import { decodeCursor, encodeCursor, MAX_SEQ, pageSize, seqOf, toConnection } from '../../src/pagination.js';

const rules = { defaultSize: 50, maxSize: 500 };

describe('pageSize', () => {
  it('should default when first is not given, and take 1 and the maximum as they are', () => {
    expect(pageSize(undefined, rules)).toBe(50);
    expect(pageSize(null, rules)).toBe(50);
    expect(pageSize(1, rules)).toBe(1);
    expect(pageSize(500, rules)).toBe(500);
  });

  it.each([0, -1, 501, 1.5, Number.NaN])('should refuse first = %s with BAD_USER_INPUT naming the range', (first) => {
    const refusal = () => pageSize(first, rules);
    expect(refusal).toThrow(DomainError);
    expect(refusal).toThrow(/first must be a whole number from 1 to 500/);
    try {
      refusal();
    } catch (error) {
      expect((error as DomainError).code).toBe('BAD_USER_INPUT');
    }
  });
});

describe('toConnection', () => {
  const edgeOf = (n: number) => ({ cursor: `c${n}`, node: n });

  it('should cut the extra row and say there is a next page', () => {
    expect(toConnection([1, 2, 3], 2, edgeOf)).toEqual({
      edges: [edgeOf(1), edgeOf(2)],
      pageInfo: { hasNextPage: true, startCursor: 'c1', endCursor: 'c2' },
    });
  });

  it('should say there is no next page when the rows fit, and give null cursors for an empty page', () => {
    expect(toConnection([1], 2, edgeOf).pageInfo).toEqual({ hasNextPage: false, startCursor: 'c1', endCursor: 'c1' });
    expect(toConnection([], 2, edgeOf)).toEqual({
      edges: [],
      pageInfo: { hasNextPage: false, startCursor: null, endCursor: null },
    });
  });
});

describe('cursors', () => {
  const key = /^(\d+):(\d+)$/;

  it('should give back the key a cursor was made from', () => {
    const match = decodeCursor(encodeCursor('1700000000000:42'), key, (m) => m);
    expect([match[1], match[2]]).toEqual(['1700000000000', '42']);
  });

  it('should refuse cursors this server did not make, or made for another list', () => {
    for (const cursor of ['bogus!', encodeCursor('event:12'), `${encodeCursor('1:2')}=`, 'x'.repeat(200)]) {
      expect(() => decodeCursor(cursor, key, (m) => m)).toThrow(/is not a cursor this list gave out/);
    }
  });

  it('should refuse a well-formed cursor whose position no row can have', () => {
    const seq = /^(\d+)$/;
    expect(decodeCursor(encodeCursor(MAX_SEQ.toString()), seq, ([digits]) => seqOf(digits))).toBe(MAX_SEQ);
    expect(() => decodeCursor(encodeCursor((MAX_SEQ + 1n).toString()), seq, ([digits]) => seqOf(digits))).toThrow(
      /is not a cursor this list gave out/,
    );
  });
});
