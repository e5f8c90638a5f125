// Cursor pagination, one rule for every list: `first` from 1 to the maximum page size, opaque cursors that the
// server alone makes, and one extra row read to tell whether a next page exists. Each list keeps its own keyset
// (what a cursor holds); this file owns how a page is sized, cut and encoded.
import { badInput } from './errors.js';

export interface PageRules {
  defaultSize: number;
  maxSize: number;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: { hasNextPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** The contract's default `first` of a history page. */
export const DEFAULT_PAGE_SIZE = 50;

/** The page size a client asked for, or the default; outside 1..max is BAD_USER_INPUT. */
export function pageSize(first: number | null | undefined, { defaultSize, maxSize }: PageRules): number {
  const size = first ?? defaultSize;
  if (!Number.isInteger(size) || size < 1 || size > maxSize) {
    throw badInput(`first must be a whole number from 1 to ${maxSize}, got ${size}`);
  }
  return size;
}

/** `rows` were read with `size + 1` as their limit: the extra row only says there is a next page. */
export function toConnection<R, T>(rows: R[], size: number, edgeOf: (row: R) => Edge<T>): Connection<T> {
  const edges = rows.slice(0, size).map(edgeOf);
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

export function encodeCursor(key: string): string {
  return Buffer.from(key).toString('base64url');
}

/** The largest seq a cursor may hold: Postgres' bigint. */
export const MAX_SEQ = 2n ** 63n - 1n;

/**
 * The key inside a cursor, matched against `pattern` and turned into a position by `parse`, which answers null for
 * a key no row can have (out of its column's range: the database would fail on it). A cursor this server did not
 * make (or not for this list) is BAD_USER_INPUT. Only the canonical encoding is accepted, so one position has one
 * cursor.
 */
export function decodeCursor<T>(cursor: string, pattern: RegExp, parse: (match: RegExpExecArray) => T | null): T {
  const key = Buffer.from(cursor, 'base64url').toString();
  const match = pattern.exec(key);
  const position = match && encodeCursor(key) === cursor ? parse(match) : null;
  if (position === null) throw badInput(`after: "${cursor.slice(0, 64)}" is not a cursor this list gave out`);
  return position;
}

/** A seq from a cursor's digits, or null beyond bigint. */
export function seqOf(digits: string): bigint | null {
  const seq = BigInt(digits);
  return seq <= MAX_SEQ ? seq : null;
}
