// The Pothos builder: generic types, plugins and scalars. Types live in schema/<domain>.ts.
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { ROLE_RANK, type Role } from './auth/keys.js';
import type { Context } from './context.js';
import { DomainError } from './errors.js';

/** The role each auth scope stands for: a field with `authScopes: { admin: true }` is for ADMIN and above. */
export const SCOPE_ROLES = { viewer: 'VIEWER', publisher: 'PUBLISHER', admin: 'ADMIN' } as const satisfies Record<
  string,
  Role
>;

const atLeast = (context: Context, role: Role) =>
  context.principal !== null && ROLE_RANK[context.principal.role] >= ROLE_RANK[role];

interface SchemaTypesInput {
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
  AuthScopes: Record<keyof typeof SCOPE_ROLES, boolean>;
  DefaultFieldNullability: false;
}

/** The builder's types, for helpers that make refs (schema/pagination.ts). */
export type SchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<SchemaTypesInput>;

export const builder = new SchemaBuilder<SchemaTypesInput>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      viewer: atLeast(context, SCOPE_ROLES.viewer),
      publisher: atLeast(context, SCOPE_ROLES.publisher),
      admin: atLeast(context, SCOPE_ROLES.admin),
    }),
    unauthorizedError: (_parent, context, info) =>
      context.principal
        ? new DomainError(
            'FORBIDDEN',
            `the ${context.principal.role} role may not use ${info.parentType.name}.${info.fieldName}`,
          )
        : new DomainError('UNAUTHENTICATED', 'an API key is required: send "Authorization: Bearer <key>"'),
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
