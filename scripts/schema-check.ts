// Fails when schema.graphql is not what `npm run schema:print` would write now (the Keystone "check mode":
// rebuild in memory with the same codegen config, compare, write nothing).
import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import config from '../codegen.js';

const outputs = await generate({ ...config, silent: true }, false);
const expected = outputs.find((o: { filename: string }) => o.filename === 'schema.graphql')?.content;
const actual = readFileSync('schema.graphql', 'utf8');
if (expected !== actual) {
  console.error('schema.graphql is stale: run `npm run schema:print` and commit the result');
  process.exit(1);
}
console.log('schema.graphql is up to date');
