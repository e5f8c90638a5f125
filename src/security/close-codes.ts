// WebSocket close codes of our own, beside graphql-ws's `CloseCode` (4400, 4401, 4403, 4406, 4408, 4409, 4429,
// 4500, 4504 are taken by it). Clients switch on these names, so they never change meaning.
import { CloseCode } from 'graphql-ws';

export const SecurityCloseCode = {
  /** The connection's API key was revoked: the same code as a bad key at connect. */
  KeyRevoked: CloseCode.Forbidden,
  /** The API key already holds MAX_CONNECTIONS_PER_KEY connections on this instance. */
  TooManyConnections: 4430,
  /** The client read so slowly that more than WS_MAX_BUFFERED_BYTES waited for it. */
  SlowConsumer: 4413,
  /** The key could not be checked (the database is down): the standard "Try Again Later". */
  TryAgainLater: 1013,
} as const;
