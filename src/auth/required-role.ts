// The highest role any field of a document needs, read from the fields' Pothos auth scopes: what a connection's role
// must be at least for an operation to go on running after a token refresh lowers it (transport/websocket.ts).
import { type DocumentNode, type GraphQLSchema, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { SCOPE_ROLES } from '../builder.js';
import { ROLE_RANK, type Role } from './keys.js';

export interface RoleNeed {
  role: Role;
  /** The first field that needs it (`Type.field`), to name in a refusal; null when no field needs a role. */
  field: string | null;
}

/**
 * Needs already worked out, by schema and document: yoga's parser cache hands every subscriber of a query the same
 * document, and 10,000 subscribers connecting walked it 10,000 times (25 µs a walk of an `eventPublished` document,
 * 0.1 µs a look-up).
 */
const known = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, Readonly<RoleNeed>>>();

/** Every field of the document counts, its fragments' included (over-counting is safe: it can only end more). */
export function requiredRole(schema: GraphQLSchema, document: DocumentNode): Readonly<RoleNeed> {
  let bySchema = known.get(schema);
  if (!bySchema) {
    bySchema = new WeakMap();
    known.set(schema, bySchema);
  }
  let need = bySchema.get(document);
  if (!need) {
    need = Object.freeze(neededBy(schema, document));
    bySchema.set(document, need);
  }
  return need;
}

function neededBy(schema: GraphQLSchema, document: DocumentNode): RoleNeed {
  const need: RoleNeed = { role: 'VIEWER', field: null };
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field() {
        const field = typeInfo.getFieldDef();
        const parent = typeInfo.getParentType();
        const scopes = (field?.extensions as { pothosOptions?: { authScopes?: unknown } } | undefined)?.pothosOptions
          ?.authScopes;
        if (!field || !parent || !scopes || typeof scopes !== 'object') return;
        // Pothos grants a field when any of its scopes holds: the lowest of their roles is enough.
        const roles = Object.entries(scopes)
          .filter(([, on]) => on === true)
          .map(([scope]) => SCOPE_ROLES[scope as keyof typeof SCOPE_ROLES])
          .filter((role) => role !== undefined);
        if (roles.length === 0) return;
        const role = roles.reduce((low, r) => (ROLE_RANK[r] < ROLE_RANK[low] ? r : low));
        if (need.field === null || ROLE_RANK[role] > ROLE_RANK[need.role]) {
          need.role = role;
          need.field = `${parent.name}.${field.name}`;
        }
      },
    }),
  );
  return need;
}
