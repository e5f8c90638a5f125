// `npm run demo`: realistic traffic against a running server (`npm start` in another terminal) for DEMO_SECONDS or
// until Ctrl-C, with alert rules that fire and resolve, so the status page at / and GraphiQL have something to show.
// It finds an admin key itself: DEMO_API_KEY, else ADMIN_API_KEY, else the key file the server wrote at first start.
// On its way out it deletes the rules it set up (their alerts resolve) and leaves the events it published.
import { loadDemoConfig } from '../src/config.js';
import { CYCLE_SECONDS, DEMO_RULES, type DemoEvent, eventsAt, firstEvents, rateAt } from './demo-data.js';
import { findDemoKey } from './demo-key.js';

const TICK_MS = 250; // one publishEvents batch per tick
const PROGRESS_MS = 1_000;
const SERVER_WAIT_MS = 30_000; // `npm start` compiles first: the demo may be started before the server listens
const MAX_FAILURES_IN_A_ROW = 20;

class GraphQLRequestError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

function graphqlClient(url: string, key: string) {
  return async function request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    const error = body.errors?.[0];
    if (error) throw new GraphQLRequestError(error.message, error.extensions?.code);
    return body.data as T;
  };
}

type Request = ReturnType<typeof graphqlClient>;

async function waitForServer(request: Request, url: string): Promise<void> {
  const deadline = Date.now() + SERVER_WAIT_MS;
  for (let announced = false; ; ) {
    try {
      await request('{ metricNames }');
      return;
    } catch (error) {
      if (error instanceof GraphQLRequestError) throw new Error(`the server refused the demo's key: ${error.message}`);
      if (Date.now() > deadline) throw new Error(`no server answers at ${url}: start it with \`npm start\``);
      if (!announced) process.stdout.write(`waiting for the server at ${url} …\n`);
      announced = true;
      await sleep(500);
    }
  }
}

const RULE_FIELDS = 'id name';

/** The demo's rules, updated in place when an earlier run left them (killed before it could delete them). */
async function setUpRules(request: Request): Promise<string[]> {
  const { alertRules } = await request<{ alertRules: { id: string; name: string }[] }>(
    `{ alertRules { ${RULE_FIELDS} } }`,
  );
  const ids: string[] = [];
  for (const input of DEMO_RULES) {
    const existing = alertRules.find((rule) => rule.name === input.name);
    if (existing) {
      await request(`mutation ($id: ID!, $input: AlertRuleInput!) { updateAlertRule(id: $id, input: $input) { id } }`, {
        id: existing.id,
        input,
      });
      ids.push(existing.id);
    } else {
      const created = await request<{ createAlertRule: { id: string } }>(
        `mutation ($input: AlertRuleInput!) { createAlertRule(input: $input) { ${RULE_FIELDS} } }`,
        { input },
      );
      ids.push(created.createAlertRule.id);
    }
  }
  return ids;
}

async function firingRules(request: Request, ruleIds: string[]): Promise<string[]> {
  const { alerts } = await request<{ alerts: { edges: { node: { ruleId: string; ruleName: string } }[] } }>(
    '{ alerts(first: 50, status: [FIRING, ACKNOWLEDGED]) { edges { node { ruleId ruleName } } } }',
  );
  return alerts.edges.filter(({ node }) => ruleIds.includes(node.ruleId)).map(({ node }) => node.ruleName);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main() {
  const config = loadDemoConfig();
  const url = config.DEMO_URL ?? `http://localhost:${config.PORT}/graphql`;
  const request = graphqlClient(url, await findDemoKey(config));
  await waitForServer(request, url);

  let stopRequested = false;
  const stop = () => {
    // A second Ctrl-C leaves at once, rules and all.
    if (stopRequested) process.exit(130);
    stopRequested = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const ruleIds = await setUpRules(request);
  const status = {
    sent: 0,
    refused: 0,
    failuresInARow: 0,
    firing: [] as string[],
    lastError: '',
  };
  const startedAt = Date.now();
  const publish = async (events: DemoEvent[]) => {
    try {
      await request('mutation ($inputs: [PublishEventInput!]!) { publishEvents(inputs: $inputs) { accepted } }', {
        inputs: events,
      });
      status.sent += events.length;
      status.failuresInARow = 0;
    } catch (error) {
      // OVERLOADED or RATE_LIMITED: this batch is dropped, the next one goes on time.
      status.refused += events.length;
      status.failuresInARow += 1;
      status.lastError = error instanceof Error ? error.message : String(error);
    }
  };

  let lineLength = 0;
  const showProgress = () => {
    const elapsed = (Date.now() - startedAt) / 1000;
    const line =
      `demo ${elapsed.toFixed(0).padStart(3)} s / ${config.DEMO_SECONDS} s · ${status.sent} events sent` +
      ` (${(status.sent / Math.max(elapsed, 1)).toFixed(1)}/s)` +
      (status.refused ? ` · ${status.refused} refused` : '') +
      ` · firing: ${status.firing.length ? status.firing.join(', ') : 'none'}`;
    process.stdout.write(`\r${line.padEnd(lineLength)}`);
    lineLength = line.length;
  };

  const random = Math.random;
  await publish(firstEvents(random));
  let owed = 0; // fractions of an event carried from one tick to the next, so low rates still publish
  let nextProgress = 0;
  while (!stopRequested && Date.now() - startedAt < config.DEMO_SECONDS * 1000) {
    const tickStartedAt = Date.now();
    const elapsed = (tickStartedAt - startedAt) / 1000;
    owed += (rateAt(elapsed, config.DEMO_EVENTS_PER_SECOND) * TICK_MS) / 1000;
    const count = Math.floor(owed);
    owed -= count;
    if (count > 0) await publish(eventsAt(elapsed, count, random));
    if (status.failuresInARow >= MAX_FAILURES_IN_A_ROW)
      throw new Error(`the server refused ${MAX_FAILURES_IN_A_ROW} batches in a row: ${status.lastError}`);
    if (tickStartedAt >= nextProgress) {
      nextProgress = tickStartedAt + PROGRESS_MS;
      status.firing = await firingRules(request, ruleIds).catch(() => status.firing);
      showProgress();
    }
    await sleep(Math.max(0, TICK_MS - (Date.now() - tickStartedAt)));
  }
  showProgress();
  process.stdout.write('\n');

  for (const id of ruleIds)
    await request('mutation ($id: ID!) { deleteAlertRule(id: $id) }', { id }).catch((error) => {
      process.stdout.write(`could not delete demo rule ${id}: ${error instanceof Error ? error.message : error}\n`);
    });
  process.stdout.write(
    `demo done: ${status.sent} events sent; its ${ruleIds.length} alert rules deleted (the story repeats every ${CYCLE_SECONDS} s)\n`,
  );
}

main().catch((error) => {
  process.stdout.write('\n');
  console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
