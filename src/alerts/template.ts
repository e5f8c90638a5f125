// A rule's `summary`: text with {{placeholders}} filled in from the firing, for the alert's message, webhooks and
// emails. Pure, and deliberately not a template engine: a placeholder is a name looked up in a fixed table (no
// expressions, no property access, so nothing a rule's author writes can run code or reach an object's prototype),
// names are checked when the rule is saved, and the output is bounded.
import type { Label } from '../aggregation/labels.js';
import { alertMessage, type ConditionValues, conditionKey } from './evaluate.js';
import type { AlertCondition, AlertRuleDefinition } from './rules.js';

/** `{{ name }}` or `{{ name.N }}` (N from 1: the rule's Nth condition). Anything else between braces is refused. */
const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const KEY = /^\s*([a-z]+)(?:\.([1-9][0-9]{0,2}))?\s*$/;

/** What a firing fills in. Names of a condition take an index (`value.2`); without one they mean the first. */
const RULE_PLACEHOLDERS = ['rule', 'severity', 'labels'] as const;
const CONDITION_PLACEHOLDERS = ['metric', 'window', 'aggregation', 'operator', 'threshold', 'value'] as const;
export const PLACEHOLDERS: readonly string[] = [...RULE_PLACEHOLDERS, ...CONDITION_PLACEHOLDERS];

/** However values expand, a rendered summary is cut here, so a message stays bounded whatever the rule holds. */
export const MAX_RENDERED_LENGTH = 10_000;

type RuleParts = Pick<AlertRuleDefinition, 'name' | 'severity' | 'conditions'>;

/** The problems of a template for `rule` (empty when it is fine), each naming what is wrong. */
export function templateProblems(template: string, conditionCount: number): string[] {
  const problems: string[] = [];
  for (const [placeholder, inner = ''] of template.matchAll(PLACEHOLDER)) {
    const match = KEY.exec(inner);
    const name = match?.[1] ?? '';
    const index = match?.[2] === undefined ? 1 : Number(match[2]);
    if (!match || !PLACEHOLDERS.includes(name)) {
      problems.push(`has an unknown placeholder ${placeholder} (known: ${PLACEHOLDERS.join(', ')})`);
    } else if (match[2] !== undefined && !(CONDITION_PLACEHOLDERS as readonly string[]).includes(name)) {
      problems.push(`has ${placeholder}, but ${name} takes no condition number`);
    } else if (index > conditionCount) {
      problems.push(`has ${placeholder}, but the rule has ${conditionCount} condition(s)`);
    }
  }
  // Braces left over after the placeholders are taken out are a placeholder mistyped ("{{value}", "{{ {x} }}").
  if (/\{\{|\}\}/.test(template.replace(PLACEHOLDER, ''))) problems.push('has unbalanced {{ or }}');
  return problems;
}

function formatValue(value: number | null | undefined): string {
  return value == null ? 'no data' : String(value);
}

function conditionField(name: string, condition: AlertCondition, values: Record<string, number | null>): string {
  switch (name) {
    case 'metric':
      return condition.metric;
    case 'window':
      return condition.window;
    case 'aggregation':
      return condition.aggregation;
    case 'operator':
      return condition.operator;
    case 'threshold':
      return String(condition.threshold);
    case 'value':
      return formatValue(values[conditionKey(condition)]);
    default:
      return '';
  }
}

/** An alert's label set as people read it: "competitor=acme, region=eu" (empty for a rule without groupBy). */
export function formatLabels(labels: readonly Label[]): string {
  return labels.map(({ name, value }) => `${name}=${value}`).join(', ');
}

/**
 * The summary with its placeholders filled in. The template was checked when saved; a placeholder that no longer
 * resolves (it cannot, but a stored row is not proof) is left as written rather than failing the alert.
 */
export function renderSummary(
  template: string,
  rule: RuleParts,
  values: Record<string, number | null>,
  labels: readonly Label[] = [],
): string {
  const rendered = template.replace(PLACEHOLDER, (placeholder, inner: string) => {
    const match = KEY.exec(inner);
    if (!match?.[1]) return placeholder;
    const name = match[1];
    if (name === 'rule') return rule.name;
    if (name === 'severity') return rule.severity;
    if (name === 'labels') return formatLabels(labels);
    const condition = rule.conditions[match[2] === undefined ? 0 : Number(match[2]) - 1];
    return condition && (CONDITION_PLACEHOLDERS as readonly string[]).includes(name)
      ? conditionField(name, condition, values)
      : placeholder;
  });
  return rendered.length > MAX_RENDERED_LENGTH ? `${rendered.slice(0, MAX_RENDERED_LENGTH - 1)}…` : rendered;
}

/**
 * An alert's message: the rule's summary rendered, or without one the account of its conditions, after the label
 * set it fired for when it has one ("competitor=acme: avg(…)…").
 */
export function alertText(
  rule: RuleParts & Pick<AlertRuleDefinition, 'summary'>,
  values: ConditionValues,
  labels: readonly Label[] = [],
): string {
  if (rule.summary) return renderSummary(rule.summary, rule, values, labels);
  const message = alertMessage(rule, values);
  return labels.length > 0 ? `${formatLabels(labels)}: ${message}` : message;
}
