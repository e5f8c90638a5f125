// GraphiQL at /graphql opens with example operations (publish, aggregate, a subscription) and the Authorization header
// to fill in, from the installed package (no CDN), and each example is a valid operation of the schema.
import { parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { startServer, type TestServer } from '../helpers/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/services.js';

let database: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({ databaseUrl: database.url });
});

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

interface RenderedOptions {
  defaultQuery?: string;
  headers?: string;
  defaultTabs?: { query: string; headers?: string }[];
}

/** The options object the served page hands GraphiQL, as the browser will read it. */
function renderedOptions(html: string): RenderedOptions {
  const call = /renderYogaGraphiQL\(\s*window\.document\.querySelector\('#root'\),\s*(\{.*\}),\s*\);/s.exec(html);
  if (!call?.[1]) throw new Error('no renderYogaGraphiQL call in the GraphiQL page');
  return JSON.parse(call[1]) as RenderedOptions;
}

describe('GraphiQL', () => {
  it('should open with publish, aggregate and subscription examples and the Authorization header to fill in', async () => {
    const res = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const options = renderedOptions(await res.text());

    const tabs = options.defaultTabs ?? [];
    const operations = tabs.map(({ query }) => parse(query).definitions.map((d) => 'operation' in d && d.operation));
    expect(operations).toEqual([['mutation'], ['query'], ['subscription']]);
    const [publish, aggregate, live] = tabs.map(({ query }) => query);
    expect(publish).toContain('publishEvents(');
    expect(aggregate).toContain('aggregate(metric:');
    expect(live).toContain('metricUpdated(');
    for (const { query } of tabs) expect(validate(schema, parse(query))).toEqual([]);
    expect(options.defaultQuery).toBe(publish);

    const expectedHeaders = { Authorization: 'Bearer <your API key>' };
    expect(JSON.parse(options.headers ?? '{}')).toEqual(expectedHeaders);
    for (const tab of tabs) expect(JSON.parse(tab.headers ?? '{}')).toEqual(expectedHeaders);
  });
});
