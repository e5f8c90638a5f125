import { describe, expect, it } from 'vitest';
import {
  type AlertConditionInput,
  type AlertRuleInput,
  RULE_LIMITS,
  validateRuleInput,
  type WebhookPolicy,
} from '../../src/alerts/rules.js';

const condition: AlertConditionInput = { metric: 'api_response_time', operator: 'GT', threshold: 500 };
const rule: AlertRuleInput = { name: 'Slow API', severity: 'HIGH', conditions: [condition] };

/** What a server with WEBHOOK_SECRET set and ALLOW_PRIVATE_WEBHOOK_TARGETS=true allows; the webhook tests narrow it. */
const OPEN: WebhookPolicy = { secretSet: true, allowPrivateTargets: true };

function problemsOf(input: unknown, policy: WebhookPolicy = OPEN): string[] {
  const result = validateRuleInput(input, policy);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  return result.problems;
}

function validated(input: unknown, policy: WebhookPolicy = OPEN) {
  const result = validateRuleInput(input, policy);
  if (!result.ok) throw new Error(`expected a valid rule, got: ${result.problems.join('; ')}`);
  return result.value;
}

describe('validateRuleInput', () => {
  it('should apply the contract defaults to a minimal rule', () => {
    expect(validated(rule)).toEqual({
      name: 'Slow API',
      severity: 'HIGH',
      conditions: [
        { metric: 'api_response_time', window: 'M5', aggregation: 'AVG', operator: 'GT', threshold: 500, labels: [] },
      ],
      enabled: true,
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState: 'OK',
      webhookUrls: [],
      emails: [],
      summary: null,
      notifyOnResolve: true,
      repeatIntervalSeconds: null,
      groupBy: [],
    });
  });

  it('should treat explicit nulls as the defaults, as GraphQL may send them', () => {
    const value = validated({
      ...rule,
      conditions: [{ ...condition, window: null, aggregation: null }],
      enabled: null,
      forSeconds: null,
      keepFiringForSeconds: null,
      noDataState: null,
      webhookUrls: null,
      emails: null,
    });
    expect(value).toMatchObject({
      enabled: true,
      forSeconds: 0,
      keepFiringForSeconds: 0,
      noDataState: 'OK',
      webhookUrls: [],
      emails: [],
    });
    expect(value.conditions[0]).toMatchObject({ window: 'M5', aggregation: 'AVG' });
  });

  it('should keep every field that was given', () => {
    const full: AlertRuleInput = {
      name: 'Parity dropped',
      severity: 'CRITICAL',
      conditions: [
        {
          metric: 'competitive_parity',
          window: 'H1',
          aggregation: 'P95',
          operator: 'LTE',
          threshold: -0.5,
          labels: [{ name: 'region', value: 'eu' }],
        },
        { metric: 'anomaly_count', window: 'M1', aggregation: 'COUNT', operator: 'EQ', threshold: 0, labels: [] },
      ],
      enabled: false,
      forSeconds: 120,
      keepFiringForSeconds: 300,
      noDataState: 'KEEP',
      webhookUrls: ['https://hooks.example.com/a', 'http://127.0.0.1:8080/alerts'],
      emails: ['ops@example.com'],
      summary: '{{rule}}: {{metric}} at {{value}}, {{value.2}} anomalies',
      notifyOnResolve: false,
      repeatIntervalSeconds: 3_600,
      groupBy: ['competitor'],
    };
    expect(validated(full)).toEqual(full);
  });

  it('should trim the name and reject one that is empty or too long', () => {
    expect(validated({ ...rule, name: '  Slow API  ' }).name).toBe('Slow API');
    expect(problemsOf({ ...rule, name: '   ' })).toEqual(['name must not be empty']);
    expect(problemsOf({ ...rule, name: 'x'.repeat(RULE_LIMITS.maxNameLength + 1) })).toEqual([
      'name must be at most 200 characters',
    ]);
    expect(validated({ ...rule, name: 'x'.repeat(RULE_LIMITS.maxNameLength) }).name).toHaveLength(200);
  });

  it('should name a missing required field', () => {
    expect(problemsOf({ severity: 'LOW', conditions: [{ metric: 'm', operator: 'GT' }] })).toEqual([
      'name is required',
      'conditions[0].threshold is required',
    ]);
  });

  it('should reject an unknown severity, operator, window or aggregation with the allowed values', () => {
    expect(
      problemsOf({
        ...rule,
        severity: 'URGENT',
        conditions: [{ ...condition, operator: 'NE', window: 'M2', aggregation: 'MEDIAN' }],
      }),
    ).toEqual([
      'severity must be one of LOW, MEDIUM, HIGH, CRITICAL',
      'conditions[0].window must be one of M1, M5, M15, H1, H6, H24',
      'conditions[0].aggregation must be one of COUNT, SUM, AVG, MIN, MAX, P50, P95, P99, STDDEV',
      'conditions[0].operator must be one of GT, GTE, LT, LTE, EQ',
    ]);
  });

  it('should require at least one condition and at most the limit', () => {
    expect(problemsOf({ ...rule, conditions: [] })).toEqual(['conditions must have at least one condition']);
    const tooMany = Array.from({ length: RULE_LIMITS.maxConditions + 1 }, () => condition);
    expect(problemsOf({ ...rule, conditions: tooMany })).toEqual(['conditions must have at most 20 conditions']);
    expect(validated({ ...rule, conditions: tooMany.slice(1) }).conditions).toHaveLength(20);
  });

  it.each(['_private', 'api.response:time-2', 'A', `a${'b'.repeat(127)}`])(
    'should accept the metric name %s',
    (metric) => {
      expect(validated({ ...rule, conditions: [{ ...condition, metric }] }).conditions[0]?.metric).toBe(metric);
    },
  );

  it.each(['', '1st', '-x', '.x', 'has space', 'café', 'a/b', `a${'b'.repeat(128)}`])(
    'should reject the metric name "%s"',
    (metric) => {
      const [problem, ...others] = problemsOf({ ...rule, conditions: [condition, { ...condition, metric }] });
      expect(others).toEqual([]);
      expect(problem).toMatch(
        /^conditions\[1\]\.metric must be a metric name: 1 to 128 characters among letters, digits/,
      );
    },
  );

  it.each([Infinity, -Infinity, NaN, '500', null])('should reject the threshold %s', (threshold) => {
    expect(problemsOf({ ...rule, conditions: [condition, { ...condition, threshold }] })).toEqual([
      'conditions[1].threshold must be a finite number',
    ]);
  });

  it('should require keepFiringForSeconds to be a whole number of 0 or more, and noDataState a known one', () => {
    expect(problemsOf({ ...rule, keepFiringForSeconds: -1 })).toEqual(['keepFiringForSeconds must be 0 or more']);
    expect(problemsOf({ ...rule, keepFiringForSeconds: 0.5 })).toEqual([
      'keepFiringForSeconds must be a whole number of seconds',
    ]);
    expect(problemsOf({ ...rule, keepFiringForSeconds: RULE_LIMITS.maxForSeconds + 1 })).toEqual([
      'keepFiringForSeconds must be at most 2147483647',
    ]);
    expect(validated({ ...rule, keepFiringForSeconds: RULE_LIMITS.maxForSeconds }).keepFiringForSeconds).toBe(
      RULE_LIMITS.maxForSeconds,
    );
    expect(problemsOf({ ...rule, noDataState: 'NODATA' })).toEqual(['noDataState must be one of OK, KEEP, ALERTING']);
    expect(validated({ ...rule, noDataState: 'ALERTING' }).noDataState).toBe('ALERTING');
  });

  it('should require forSeconds to be a whole number of 0 or more', () => {
    expect(problemsOf({ ...rule, forSeconds: -1 })).toEqual(['forSeconds must be 0 or more']);
    expect(problemsOf({ ...rule, forSeconds: 1.5 })).toEqual(['forSeconds must be a whole number of seconds']);
    expect(problemsOf({ ...rule, forSeconds: RULE_LIMITS.maxForSeconds + 1 })).toEqual([
      'forSeconds must be at most 2147483647',
    ]);
  });

  it.each(['ftp://example.com/hook', 'javascript:alert(1)', 'not a url', 'example.com/hook', 'http:/x'])(
    'should reject the webhook URL %s',
    (url) => {
      expect(problemsOf({ ...rule, webhookUrls: ['https://ok.example.com', url] })).toEqual([
        'webhookUrls[1] must be an http(s) URL',
      ]);
    },
  );

  it.each([
    ['http://127.0.0.1:8080/hook', 'points at a loopback address (127.0.0.1)'],
    ['http://[::1]/hook', 'points at a loopback address (::1)'],
    ['http://10.0.0.7/hook', 'points at a private address (10.0.0.7)'],
    ['http://192.168.1.1/hook', 'points at a private address (192.168.1.1)'],
    ['http://169.254.169.254/latest/meta-data', 'points at a linkLocal address (169.254.169.254)'],
    ['http://[fd00:ec2::254]/latest', 'points at a uniqueLocal address (fd00:ec2::254)'],
    ['http://100.64.0.1/hook', 'points at a carrierGradeNat address (100.64.0.1)'],
    ['http://[::ffff:7f00:1]/hook', 'points at a loopback address (::ffff:7f00:1)'],
    ['http://2130706433/hook', 'points at a loopback address (127.0.0.1)'],
    ['http://0.0.0.0/hook', 'points at a unspecified address (0.0.0.0)'],
    ['http://localhost:4000/hook', 'points at a private host name (localhost)'],
    ['http://metadata.google.internal/computeMetadata', 'points at a private host name (metadata.google.internal)'],
  ])('should refuse the private webhook target %s unless private targets are allowed', (url, problem) => {
    const policy = { secretSet: true, allowPrivateTargets: false };
    expect(problemsOf({ ...rule, webhookUrls: ['https://hooks.example.com/a', url] }, policy)).toEqual([
      `webhookUrls[1] ${problem}: webhooks may not reach loopback, private, link-local or metadata addresses`,
    ]);
    expect(validated({ ...rule, webhookUrls: [url] }).webhookUrls).toHaveLength(1);
  });

  it('should accept public webhook targets when private ones are refused', () => {
    const policy = { secretSet: true, allowPrivateTargets: false };
    const urls = ['https://hooks.example.com/a', 'http://93.184.215.14/x', 'https://[2606:4700::1111]/y'];
    expect(validated({ ...rule, webhookUrls: urls }, policy).webhookUrls).toEqual(urls);
  });

  it('should refuse a webhook URL holding a user name or password', () => {
    for (const url of [
      'https://user:pass@hooks.example.com/a',
      'https://token@hooks.example.com/a',
      'http://:@h.example/',
    ]) {
      expect(problemsOf({ ...rule, webhookUrls: [url] })).toEqual([
        'webhookUrls[0] must not hold a user name or password (put a token in the path or query)',
      ]);
    }
  });

  it('should accept an @ in the path or query, and bound the length of a webhook URL', () => {
    const urls = ['https://hooks.example.com/p@th', 'https://hooks.example.com/a?to=ops@example.com'];
    expect(validated({ ...rule, webhookUrls: urls }).webhookUrls).toEqual(urls);
    const long = `https://hooks.example.com/${'a'.repeat(RULE_LIMITS.maxWebhookUrlLength)}`;
    expect(problemsOf({ ...rule, webhookUrls: [long] })).toEqual(['webhookUrls[0] must be at most 2048 characters']);
  });

  it('should refuse webhooks, saying why, when the server has no WEBHOOK_SECRET', () => {
    const policy = { secretSet: false, allowPrivateTargets: true };
    expect(problemsOf({ ...rule, webhookUrls: ['https://hooks.example.com/a'] }, policy)).toEqual([
      'webhookUrls need WEBHOOK_SECRET to be set on the server: receivers could not verify an unsigned alert',
    ]);
    // Rules without webhooks are not affected.
    expect(validated({ ...rule, emails: ['ops@example.com'] }, policy).webhookUrls).toEqual([]);
  });

  it.each(['nope', 'a@', '@example.com', 'two words@example.com'])('should reject the email %s', (email) => {
    expect(problemsOf({ ...rule, emails: ['ops@example.com', email] })).toEqual(['emails[1] must be an email address']);
  });

  it('should bound the number of webhook URLs and emails', () => {
    const urls = Array.from({ length: 21 }, (_, i) => `https://example.com/hook/${i}`);
    const emails = Array.from({ length: 21 }, (_, i) => `ops${i}@example.com`);
    expect(problemsOf({ ...rule, webhookUrls: urls, emails })).toEqual([
      'webhookUrls must have at most 20 webhook URLs',
      'emails must have at most 20 email addresses',
    ]);
  });

  it('should notify a repeated webhook URL or email only once', () => {
    const value = validated({
      ...rule,
      webhookUrls: ['https://example.com/a', 'https://example.com/b', 'https://example.com/a'],
      emails: ['ops@example.com', 'ops@example.com'],
    });
    expect(value.webhookUrls).toEqual(['https://example.com/a', 'https://example.com/b']);
    expect(value.emails).toEqual(['ops@example.com']);
  });

  it('should reject unknown fields and a non-object input', () => {
    expect(problemsOf({ ...rule, extra: 1 })).toEqual(['input has unknown field(s) extra']);
    expect(problemsOf({ ...rule, conditions: [{ ...condition, unit: 'ms' }] })).toEqual([
      'conditions[0] has unknown field(s) unit',
    ]);
    expect(problemsOf(null)).toEqual(['input must be an object']);
  });

  it('should report every problem at once', () => {
    expect(
      problemsOf({ name: '', severity: 'HIGH', conditions: [{ ...condition, threshold: Infinity }], forSeconds: -5 }),
    ).toEqual([
      'name must not be empty',
      'conditions[0].threshold must be a finite number',
      'forSeconds must be 0 or more',
    ]);
  });
});
