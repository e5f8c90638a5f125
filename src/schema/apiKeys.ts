// API keys: created, listed and revoked by admins; the key itself is shown once.
import type { ApiKeyInfo } from '../auth/keys.js';
import { builder } from '../builder.js';
import { Role as Roles } from '../generated/prisma/enums.js';
import { EventTypeEnum } from './events.js';

export const RoleEnum = builder.enumType('Role', { values: Object.values(Roles) });

const ApiKeyRef = builder.objectRef<ApiKeyInfo>('ApiKey').implement({
  description: 'An API key as admins see it: never the key itself, which was shown once.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.field({ type: RoleEnum, resolve: (k) => k.role }),
    createdAt: t.field({ type: 'DateTime', resolve: (k) => k.createdAt }),
    lastUsedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When the key was last checked against the database, to about a minute (repeat uses are cached).',
      resolve: (k) => k.lastUsedAt,
    }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    revokedAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.revokedAt }),
    eventTypes: t.field({
      type: [EventTypeEnum],
      nullable: true,
      description: 'The only event types the key may publish; null: any.',
      resolve: (k) => k.eventTypes,
    }),
  }),
});

const ApiKeyPayload = builder.objectRef<ApiKeyInfo & { key: string }>('ApiKeyPayload').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.field({ type: RoleEnum, resolve: (k) => k.role }),
    key: t.exposeString('key', { description: 'The secret itself: shown this once, stored only as a hash.' }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, resolve: (k) => k.expiresAt }),
    eventTypes: t.field({ type: [EventTypeEnum], nullable: true, resolve: (k) => k.eventTypes }),
  }),
});

builder.queryFields((t) => ({
  apiKeys: t.field({
    type: [ApiKeyRef],
    authScopes: { admin: true },
    description: 'Every API key, revoked and expired ones included, oldest first.',
    resolve: (_root, _args, { services }) => services.apiKeys.listKeys(),
  }),
}));

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: ApiKeyPayload,
    authScopes: { admin: true },
    args: {
      name: t.arg.string({ required: true }),
      role: t.arg({ type: RoleEnum, required: true }),
      expiresAt: t.arg({ type: 'DateTime', description: 'Past it the key is refused, as if revoked. Unset: never.' }),
      eventTypes: t.arg({
        type: [EventTypeEnum],
        description: 'PUBLISHER keys only: the only event types the key may publish. Unset: any.',
      }),
    },
    resolve: (_root, args, { services }) => services.apiKeys.createKey(args),
  }),
  revokeApiKey: t.field({
    type: 'Boolean',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.apiKeys.revokeKey(String(id)),
  }),
}));
