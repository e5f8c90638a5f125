// `npm run schema:print` writes schema.graphql from the code-first schema (sorted, so diffs stay small).
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
  },
};

export default config;
