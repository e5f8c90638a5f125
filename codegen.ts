// `npm run schema:print` writes schema.graphql from the code-first schema (sorted, so diffs stay small), and the typed
// documents of the tests' operations (test/generated/) from the `graphql(...)` calls in test/.
import type { CodegenConfig } from '@graphql-codegen/cli';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { schema } from './src/schema/index.js';

export const SCHEMA_HEADER = '# Generated from src/schema by `npm run schema:print`. Do not edit.\n\n';

const config: CodegenConfig = {
  schema: printSchema(lexicographicSortSchema(schema)),
  generates: {
    'schema.graphql': {
      plugins: [{ add: { content: SCHEMA_HEADER.trimEnd() } }, 'schema-ast'],
      config: { includeDirectives: false, sort: true },
    },
    'test/generated/': {
      preset: 'client',
      documents: ['test/**/*.ts', '!test/generated/**'],
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
