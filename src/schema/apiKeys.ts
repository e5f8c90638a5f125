// API keys: created and revoked by admins; the key itself is shown once.
import { builder } from '../builder.js';
import { Role as Roles } from '../generated/prisma/enums.js';

export const RoleEnum = builder.enumType('Role', { values: Object.values(Roles) });

const ApiKeyPayload = builder
  .objectRef<{ id: string; name: string; role: (typeof Roles)[keyof typeof Roles]; key: string }>('ApiKeyPayload')
  .implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      name: t.exposeString('name'),
      role: t.field({ type: RoleEnum, resolve: (k) => k.role }),
      key: t.exposeString('key', { description: 'The secret itself: shown this once, stored only as a hash.' }),
    }),
  });

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: ApiKeyPayload,
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), role: t.arg({ type: RoleEnum, required: true }) },
    resolve: (_root, { name, role }, { services }) => services.apiKeys.createKey(name, role),
  }),
  revokeApiKey: t.field({
    type: 'Boolean',
    authScopes: { admin: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services }) => services.apiKeys.revokeKey(String(id)),
  }),
}));
