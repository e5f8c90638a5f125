import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationLabels } from '../../src/observability/graphql-metrics.js';
import { schema } from '../../src/schema/index.js';

const labels = (query: string, operationName?: string) => operationLabels(schema, parse(query), operationName);

describe('operationLabels', () => {
  it('should name the root field of each operation type', () => {
    expect(labels('{ metricNames }')).toEqual({ type: 'query', field: 'metricNames' });
    expect(labels('mutation { deleteAlertRule(id: "x") }')).toEqual({ type: 'mutation', field: 'deleteAlertRule' });
    expect(labels('subscription { dashboardUpdated { at } }')).toEqual({
      type: 'subscription',
      field: 'dashboardUpdated',
    });
    expect(labels('{ __typename }')).toEqual({ type: 'query', field: '__typename' });
  });

  it('should find the root field through fragments, and say `multiple` for several', () => {
    expect(labels('{ ...F } fragment F on Query { ... on Query { metricNames } }')).toEqual({
      type: 'query',
      field: 'metricNames',
    });
    expect(labels('{ metricNames ...F } fragment F on Query { alertRules { id } }')).toEqual({
      type: 'query',
      field: 'multiple',
    });
    // A cycle is invalid, but it is labelled before validation: it must not loop.
    expect(labels('{ ...F } fragment F on Query { metricNames ...F }')).toEqual({
      type: 'query',
      field: 'metricNames',
    });
  });

  it('should never take a name from the client', () => {
    expect(labels('{ chosenByClient }')).toEqual({ type: 'query', field: 'unknown' });
    expect(labels('mutation { metricNames }')).toEqual({ type: 'mutation', field: 'unknown' });
    expect(labels('query A { metricNames }', 'B')).toEqual({ type: 'unknown', field: 'unknown' });
    expect(labels('query A { metricNames } query B { dashboard { at } }')).toEqual({
      type: 'unknown',
      field: 'unknown',
    });
    expect(labels('query A { metricNames } query B { dashboard { at } }', 'B')).toEqual({
      type: 'query',
      field: 'dashboard',
    });
  });
});
