// Fails when a generated file is not what `npm run schema:print` would write now: schema.graphql, and the typed
// documents of the tests' operations in test/generated/ and of the typed client example (the Keystone "check mode":
// rebuild in memory with the same codegen configs, compare, write nothing).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import config from '../codegen.js';
import exampleConfig from '../examples/typed-client/codegen.js';

const GENERATED_DIRS = ['test/generated', 'examples/typed-client/generated'];

// The example's documents are typed from schema.graphql as committed: checked once that is known to be fresh.
const outputs: { filename: string; content: string }[] = [
  ...(await generate({ ...config, silent: true }, false)),
  ...(await generate({ ...exampleConfig, silent: true }, false)),
];
const expected = new Map(outputs.map((o) => [path.normalize(o.filename), o.content]));
const stale: string[] = [];
for (const [filename, content] of expected) {
  if (!existsSync(filename) || readFileSync(filename, 'utf8') !== content) stale.push(filename);
}
// A file codegen no longer writes (an output it dropped) is stale too.
for (const dir of GENERATED_DIRS) {
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    const filename = path.join(dir, name);
    if (!expected.has(filename)) stale.push(filename);
  }
}
if (stale.length > 0) {
  console.error(`stale: ${stale.join(', ')}: run \`npm run schema:print\` and commit the result`);
  process.exit(1);
}
console.log(`up to date: ${[...expected.keys()].join(', ')}`);
