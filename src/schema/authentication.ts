// Who a connection is, and the refresh of a browser token on an open WebSocket (auth/tokens.ts,
// transport/websocket.ts): new token, same subscriptions.
import type { Principal } from '../auth/keys.js';
import { builder } from '../builder.js';
import { badInput } from '../errors.js';
import { RoleEnum } from './apiKeys.js';

const Authentication = builder.objectRef<Principal>('Authentication').implement({
  description: "A connection's identity after a refresh: the token's subject, role and expiry",
  fields: (t) => ({
    subject: t.string({ resolve: (principal) => principal.subject ?? principal.name }),
    role: t.field({ type: RoleEnum, resolve: (principal) => principal.role }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (principal) => principal.expiresAt ?? null }),
  }),
});

builder.mutationField('refreshAuthentication', (t) =>
  t.field({
    type: Authentication,
    description:
      "Sent on an open WebSocket opened with a token: replaces it by a new token of the same subject, keeping the socket's subscriptions (those the new role may not hold end with FORBIDDEN)",
    authScopes: { viewer: true },
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, { token }, { connection }) => {
      if (!connection) {
        throw badInput('refreshAuthentication is sent on the WebSocket whose token it replaces, not over HTTP');
      }
      return connection.refresh(token);
    },
  }),
);
