// The example's typed documents, generated from the committed `schema.graphql` as any client of the API would:
// graphql-codegen's client preset turns each graphql(`...`) call in these files into a TypedDocumentNode.
// `npm run schema:print` runs it after writing schema.graphql; `npm run schema:check` checks it is fresh.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['examples/typed-client/*.ts'],
  generates: {
    'examples/typed-client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        scalars: { DateTime: 'string', JSON: 'unknown' },
        strictScalars: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false, // `.js` in relative imports, as NodeNext resolution wants
      },
    },
  },
};

export default config;
