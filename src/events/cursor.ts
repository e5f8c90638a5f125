// An event's cursor: where it stands in the order events are broadcast in (README "Resuming events"). Pure.
//
// The stream processor records each batch it broadcasts at a position one past the previous batch's (broadcast-log.ts),
// so an event's place is (position, index in its batch). A cursor also names the database it came from, so a cursor
// kept across a restore or from another deployment is refused rather than replaying another log's positions.
// An event not yet broadcast (publishEvent answers at commit) has a pending cursor naming its seq: resuming after it
// waits until it is broadcast, then goes on from its place.
import { badInput } from '../errors.js';
import { encodeCursor, MAX_SEQ } from '../pagination.js';

export interface BroadcastPlace {
  position: bigint;
  /** Its index in the batch broadcast at `position`, from 0. */
  index: number;
}

export type EventCursor =
  | { kind: 'broadcast'; database: string; place: BroadcastPlace }
  | { kind: 'pending'; database: string; seq: bigint };

/** Places compare as one number: a batch holds far fewer than 2³² events. */
const INDEX_BITS = 32n;
const MAX_INDEX = 2 ** 32 - 1;

export function ordinalOf({ position, index }: BroadcastPlace): bigint {
  return (position << INDEX_BITS) | BigInt(index);
}

export function encodeEventCursor(cursor: EventCursor): string {
  return encodeCursor(
    cursor.kind === 'broadcast'
      ? `e1:${cursor.database}:${cursor.place.position}:${cursor.place.index}`
      : `e1:${cursor.database}:pending:${cursor.seq}`,
  );
}

const KEY = /^e1:([0-9a-f]{12}):(?:(\d{1,19}):(\d{1,10})|pending:(\d{1,19}))$/;

/**
 * The cursor inside `text`, or BAD_USER_INPUT when this server did not make it (only the canonical encoding is
 * accepted) or made it for another database.
 */
export function decodeEventCursor(text: string, database: string): EventCursor {
  const key = Buffer.from(text, 'base64url').toString();
  const match = KEY.exec(key);
  const notOurs = () => badInput(`after: "${text.slice(0, 64)}" is not an event cursor this server gave out`);
  if (!match || encodeCursor(key) !== text) throw notOurs();
  const [, from, position, index, seq] = match as unknown as [string, string, string?, string?, string?];
  if (from !== database)
    throw badInput(
      `after: the cursor is from another database (a restored or replaced one, or another deployment): ` +
        'page the events query for what you missed, then subscribe without after',
    );
  if (seq !== undefined) {
    const value = BigInt(seq);
    if (value < 1n || value > MAX_SEQ) throw notOurs();
    return { kind: 'pending', database, seq: value };
  }
  const place = { position: BigInt(position as string), index: Number(index) };
  if (place.position < 1n || place.position > MAX_SEQ || place.index > MAX_INDEX) throw notOurs();
  return { kind: 'broadcast', database, place };
}
