// Relay-style connections, one shape for every list: `<Name>Edge { cursor node }`, `<Name>Connection { edges
// pageInfo }` and one PageInfo. Pages are read forward from the newest (src/pagination.ts holds the rules).
import type { ObjectRef } from '@pothos/core';
import { builder, type SchemaTypes } from '../builder.js';
import type { Connection, Edge } from '../pagination.js';

const PageInfoRef = builder.objectRef<Connection<unknown>['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.boolean({
      description: 'Always false: pages are read forward from newest.',
      resolve: () => false,
    }),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

export function connectionType<T>(
  name: string,
  node: ObjectRef<SchemaTypes, T>,
): ObjectRef<SchemaTypes, Connection<T>> {
  const edge = builder.objectRef<Edge<T>>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      // Pothos cannot resolve its output-shape type for an unknown T; `node` is that shape by construction.
      node: t.field({ type: node, resolve: (e) => e.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [edge], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });
}
