// Alert rules and the alerts they raise: their shapes, and the validation every rule passes before it is stored.
// Pure: no I/O.
import { z } from 'zod';
import {
  isLabelName,
  LABEL_NAME_PATTERN,
  LABELS_PER_EVENT_CAP,
  type Label,
  matchersProblem,
} from '../aggregation/labels.js';
import { isValidMetricName, METRIC_NAME_PATTERN } from '../aggregation/samples.js';
import { AGGREGATIONS, type Aggregation, WINDOW_SIZES, type WindowSize } from '../aggregation/types.js';
import {
  type AlertStatus,
  AlertStatus as AlertStatuses,
  Severity as Severities,
  type Severity,
} from '../generated/prisma/enums.js';
import { literalTargetProblem } from './targets.js';
import { templateProblems } from './template.js';

export const COMPARISON_OPERATORS = ['GT', 'GTE', 'LT', 'LTE', 'EQ'] as const;
export type ComparisonOperator = (typeof COMPARISON_OPERATORS)[number];

/**
 * What a rule does while a condition's window holds no samples: OK compares as always (the condition is false,
 * except COUNT, which is 0), KEEP leaves the rule's state as it is, ALERTING counts the condition as holding.
 */
export const NO_DATA_STATES = ['OK', 'KEEP', 'ALERTING'] as const;
export type NoDataState = (typeof NO_DATA_STATES)[number];

// Severities and statuses are the database's enums (prisma/schema.prisma), listed once there.
export type { AlertStatus, Severity };
export const SEVERITIES = Object.values(Severities);
export const ALERT_STATUSES = Object.values(AlertStatuses);

/** The defaults of `AlertConditionInput` and `AlertRuleInput` in the GraphQL contract. */
export const RULE_DEFAULTS = {
  window: 'M5',
  aggregation: 'AVG',
  enabled: true,
  forSeconds: 0,
  keepFiringForSeconds: 0,
  noDataState: 'OK',
  notifyOnResolve: true,
} as const satisfies {
  window: WindowSize;
  aggregation: Aggregation;
  enabled: boolean;
  forSeconds: number;
  keepFiringForSeconds: number;
  noDataState: NoDataState;
  notifyOnResolve: boolean;
};

/** Bounds on what one rule may hold, so that one rule cannot make evaluation or notification unbounded. */
export const RULE_LIMITS = {
  maxNameLength: 200,
  maxConditions: 20,
  maxWebhookUrls: 20,
  /** What browsers and proxies commonly accept; a longer URL is not a webhook. */
  maxWebhookUrlLength: 2_048,
  maxEmails: 20,
  /** `forSeconds` and `keepFiringForSeconds` are stored in Postgres `integer` columns. */
  maxForSeconds: 2_147_483_647,
} as const;

export interface AlertCondition {
  metric: string;
  window: WindowSize;
  aggregation: Aggregation;
  operator: ComparisonOperator;
  threshold: number;
  /**
   * Label matchers: the condition reads the merge of the metric's label sets holding them all; none (or absent, as
   * in rules stored before matchers existed): the metric's total.
   */
  labels?: Label[];
}

/** A rule as validated and stored, every default applied. */
export interface AlertRuleDefinition {
  name: string;
  severity: Severity;
  conditions: AlertCondition[];
  enabled: boolean;
  forSeconds: number;
  /** Flapping: a firing rule resolves only once its conditions have stopped holding for this long. */
  keepFiringForSeconds: number;
  noDataState: NoDataState;
  webhookUrls: string[];
  emails: string[];
  // Notifications (issue 12)
  /** A template (template.ts) for the alert's message; null: the conditions' account (alertMessage). */
  summary: string | null;
  notifyOnResolve: boolean;
  /** Re-notify a firing, unacknowledged, unsilenced alert this often; null: never. */
  repeatIntervalSeconds: number | null;
  // Per label set (issue 12 item 10)
  /** Label names: one alert (and state) per combination of their values (label-set-rules.ts); none: one per rule. */
  groupBy: string[];
}

export interface AlertRule extends AlertRuleDefinition {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}

/** One firing of a rule. `ruleName` and `severity` are the rule's when it fired; `values` is keyed by conditionKey. */
export interface Alert {
  id: string;
  ruleId: string;
  ruleName: string;
  severity: Severity;
  message: string;
  values: Record<string, number | null>;
  status: AlertStatus;
  triggeredAt: Date;
  resolvedAt: Date | null;
  acknowledgedAt: Date | null;
  // Notifications (issue 12)
  /** The silence keeping its notices back, while one matches. */
  silencedBy: string | null;
  /** The API key's name (or token's subject) that acknowledged it. */
  acknowledgedBy: string | null;
  acknowledgeComment: string | null;
  /** The label set it fired for (the rule's groupBy labels), sorted by name; none for a rule without groupBy. */
  labels: Label[];
}

// GraphQL lets a client send an explicit null for an argument that has a default; null means "the default".
export interface AlertConditionInput {
  metric: string;
  window?: WindowSize | null;
  aggregation?: Aggregation | null;
  operator: ComparisonOperator;
  threshold: number;
  labels?: readonly Label[] | null;
}

export interface AlertRuleInput {
  name: string;
  severity: Severity;
  conditions: AlertConditionInput[];
  enabled?: boolean | null;
  forSeconds?: number | null;
  keepFiringForSeconds?: number | null;
  noDataState?: NoDataState | null;
  webhookUrls?: string[] | null;
  emails?: string[] | null;
  summary?: string | null;
  notifyOnResolve?: boolean | null;
  repeatIntervalSeconds?: number | null;
  groupBy?: readonly string[] | null;
}

/** The server's limits on a rule's notifications (MAX_SUMMARY_LENGTH, MIN_REPEAT_INTERVAL_SECONDS). */
export interface NoticeLimits {
  maxSummaryLength: number;
  minRepeatIntervalSeconds: number;
}

export const DEFAULT_NOTICE_LIMITS: NoticeLimits = {
  maxSummaryLength: 1_000, // a paragraph: a message that fits an email subject's preview and a chat line or two
  minRepeatIntervalSeconds: 60, // no receiver wants to be paged more than once a minute for one alert
};

/** What the server's settings allow of webhook URLs. */
export interface WebhookPolicy {
  /** WEBHOOK_SECRET is set: without it receivers could not tell a real alert from a forged one. */
  secretSet: boolean;
  /** ALLOW_PRIVATE_WEBHOOK_TARGETS */
  allowPrivateTargets: boolean;
}

export type RuleValidation = { ok: true; value: AlertRuleDefinition } | { ok: false; problems: string[] };

/** Messages are completed by the field's path, e.g. "conditions[1].threshold must be a finite number". */
function expected(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`);
}

function strictObject<Shape extends z.ZodRawShape>(shape: Shape) {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `has unknown field(s) ${issue.keys.join(', ')}`
        : expected('an object')(issue),
  });
}

function oneOf<const Value extends string>(values: readonly Value[]) {
  return z.enum(values as [Value, ...Value[]], { error: expected(`one of ${values.join(', ')}`) });
}

function seconds() {
  return z
    .int({ error: expected('a whole number of seconds') })
    .min(0, 'must be 0 or more')
    .max(RULE_LIMITS.maxForSeconds, `must be at most ${RULE_LIMITS.maxForSeconds}`)
    .nullish();
}

/** A list without repeats: naming a webhook or an address twice must not notify it twice. */
function distinctList<Item extends z.ZodType<string>>(item: Item, max: number, what: string) {
  return z
    .array(item, { error: expected(`a list of ${what}`) })
    .max(max, `must have at most ${max} ${what}`)
    .nullish()
    .transform((values) => [...new Set(values ?? [])]);
}

const conditionSchema = strictObject({
  metric: z
    .string({ error: expected('a string') })
    .refine(isValidMetricName, `must be a metric name: ${METRIC_NAME_PATTERN}`),
  window: oneOf(WINDOW_SIZES)
    .nullish()
    .transform((window) => window ?? RULE_DEFAULTS.window),
  aggregation: oneOf(AGGREGATIONS)
    .nullish()
    .transform((aggregation) => aggregation ?? RULE_DEFAULTS.aggregation),
  operator: oneOf(COMPARISON_OPERATORS),
  threshold: z.number({ error: expected('a finite number') }),
  labels: z
    .array(
      strictObject({
        name: z.string({ error: expected('a string') }),
        value: z.string({ error: expected('a string') }),
      }),
      {
        error: expected('a list of label matchers'),
      },
    )
    .nullish()
    .transform((labels) => [...(labels ?? [])])
    .superRefine((labels, context) => {
      const problem = matchersProblem(labels);
      if (problem) context.addIssue({ code: 'custom', message: `are not matchers: ${problem}` });
    }),
});

/** Label names, each once, at most as many as a label set holds. */
const groupBySchema = z
  .array(z.string({ error: expected('a label name') }), { error: expected('a list of label names') })
  .max(LABELS_PER_EVENT_CAP, `must name at most ${LABELS_PER_EVENT_CAP} labels (no label set holds more)`)
  .nullish()
  .transform((names) => [...(names ?? [])])
  .superRefine((names, context) => {
    for (const [i, name] of names.entries()) {
      if (!isLabelName(name)) {
        context.addIssue({ code: 'custom', path: [i], message: `is not a label name: ${LABEL_NAME_PATTERN}` });
      } else if (names.indexOf(name) !== i) {
        context.addIssue({ code: 'custom', path: [i], message: `names label "${name}" a second time` });
      }
    }
  });

/**
 * Userinfo would be sent as Basic auth and shown wherever the URL is; a token belongs in the path or query. Read from
 * the text as written: parsing drops an empty one (`http://:@host/`), which would still be stored and shown.
 */
const USERINFO = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i;

/** The URL when it is one a webhook may use (refinements run even when the URL check failed, already reported). */
function httpUrl(url: string): URL | null {
  const parsed = URL.canParse(url) ? new URL(url) : null;
  return parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') ? parsed : null;
}

function webhookUrlSchema({ allowPrivateTargets }: WebhookPolicy) {
  const max = RULE_LIMITS.maxWebhookUrlLength;
  return z
    .url({ protocol: /^https?$/, error: expected('an http(s) URL') })
    .max(max, `must be at most ${max} characters`)
    .refine((url) => !USERINFO.test(url), 'must not hold a user name or password (put a token in the path or query)')
    .superRefine((url, context) => {
      const parsed = allowPrivateTargets ? null : httpUrl(url);
      const problem = parsed && literalTargetProblem(parsed);
      if (problem) {
        context.addIssue({
          code: 'custom',
          message: `${problem}: webhooks may not reach loopback, private, link-local or metadata addresses`,
        });
      }
    });
}

const ruleSchemaFor = (policy: WebhookPolicy, notices: NoticeLimits) =>
  strictObject({
    name: z
      .string({ error: expected('a string') })
      .trim()
      .min(1, 'must not be empty')
      .max(RULE_LIMITS.maxNameLength, `must be at most ${RULE_LIMITS.maxNameLength} characters`),
    severity: oneOf(SEVERITIES),
    conditions: z
      .array(conditionSchema, { error: expected('a list of conditions') })
      .min(1, 'must have at least one condition')
      .max(RULE_LIMITS.maxConditions, `must have at most ${RULE_LIMITS.maxConditions} conditions`),
    enabled: z
      .boolean({ error: expected('true or false') })
      .nullish()
      .transform((enabled) => enabled ?? RULE_DEFAULTS.enabled),
    forSeconds: seconds().transform((seconds) => seconds ?? RULE_DEFAULTS.forSeconds),
    keepFiringForSeconds: seconds().transform((seconds) => seconds ?? RULE_DEFAULTS.keepFiringForSeconds),
    noDataState: oneOf(NO_DATA_STATES)
      .nullish()
      .transform((state) => state ?? RULE_DEFAULTS.noDataState),
    webhookUrls: distinctList(webhookUrlSchema(policy), RULE_LIMITS.maxWebhookUrls, 'webhook URLs').refine(
      (urls) => policy.secretSet || urls.length === 0,
      'need WEBHOOK_SECRET to be set on the server: receivers could not verify an unsigned alert',
    ),
    emails: distinctList(z.email({ error: expected('an email address') }), RULE_LIMITS.maxEmails, 'email addresses'),
    summary: z
      .string({ error: expected('a string') })
      .max(notices.maxSummaryLength, `must be at most ${notices.maxSummaryLength} characters (MAX_SUMMARY_LENGTH)`)
      .nullish()
      .transform((summary) => (summary?.trim() ? summary : null)),
    notifyOnResolve: z
      .boolean({ error: expected('true or false') })
      .nullish()
      .transform((notify) => notify ?? RULE_DEFAULTS.notifyOnResolve),
    repeatIntervalSeconds: z
      .int({ error: expected('a whole number of seconds') })
      .min(
        notices.minRepeatIntervalSeconds,
        `must be at least ${notices.minRepeatIntervalSeconds} (MIN_REPEAT_INTERVAL_SECONDS), or null for no repeats`,
      )
      .max(RULE_LIMITS.maxForSeconds, `must be at most ${RULE_LIMITS.maxForSeconds}`)
      .nullish()
      .transform((seconds) => seconds ?? null),
    groupBy: groupBySchema,
  }).superRefine((rule, context) => {
    // A label both matched and grouped by would give each group a second value for it.
    for (const [i, condition] of rule.conditions.entries()) {
      for (const { name } of condition.labels ?? []) {
        if (rule.groupBy.includes(name)) {
          context.addIssue({
            code: 'custom',
            path: ['groupBy'],
            message: `names label "${name}", which conditions[${i}].labels match: group by it or match it, not both`,
          });
        }
      }
    }
    if (rule.summary === null) return;
    for (const message of templateProblems(rule.summary, rule.conditions.length)) {
      context.addIssue({ code: 'custom', path: ['summary'], message });
    }
  }) satisfies z.ZodType<AlertRuleDefinition, AlertRuleInput>;

/** "conditions[1].threshold" for the path ["conditions", 1, "threshold"]; "input" for the whole input. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'input';
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** Checks a rule as a client sent it, against what the server allows; on success returns it with every default applied. */
export function validateRuleInput(
  input: unknown,
  policy: WebhookPolicy,
  notices: NoticeLimits = DEFAULT_NOTICE_LIMITS,
): RuleValidation {
  const parsed = ruleSchemaFor(policy, notices).safeParse(input);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: parsed.error.issues.map((issue) => `${formatPath(issue.path)} ${issue.message}`) };
}
