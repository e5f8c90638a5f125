// Summary templates: what each placeholder becomes, what is refused when a rule is saved, and, fuzzed with random
// and hostile templates and values, that rendering runs no code, reaches no prototype and stays bounded.
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertCondition } from '../../src/alerts/rules.js';
import { MAX_RENDERED_LENGTH, PLACEHOLDERS, renderSummary, templateProblems } from '../../src/alerts/template.js';
import { random } from '../helpers/random.js';

const conditions: AlertCondition[] = [
  { metric: 'api_response_time', window: 'M5', aggregation: 'P95', operator: 'GT', threshold: 500 },
  { metric: 'anomaly_count', window: 'H1', aggregation: 'COUNT', operator: 'GTE', threshold: 3 },
];
const rule = { name: 'Slow API', severity: 'HIGH' as const, conditions };
const values = { 'p95(api_response_time)[M5]': 812.5, 'count(anomaly_count)[H1]': null };
/** JavaScript's template interpolation, as hostile text (written so no linter takes it for a mistake). */
const interpolation = (code: string) => `$\{${code}}`;

describe('renderSummary', () => {
  it('should fill in every placeholder, the first condition by default and others by number', () => {
    const template =
      '{{rule}} ({{severity}}): {{aggregation}}({{metric}})[{{window}}] = {{value}} {{operator}} {{threshold}}; ' +
      '{{ metric.2 }} {{value.2}} vs {{threshold.2}} over {{window.2}}';
    expect(templateProblems(template, 2)).toEqual([]);
    expect(renderSummary(template, rule, values)).toBe(
      'Slow API (HIGH): P95(api_response_time)[M5] = 812.5 GT 500; anomaly_count no data vs 3 over H1',
    );
  });

  it('should insert values as they are, never expanding them again or reading $ patterns', () => {
    const name = `$& {{value}} $1 ${interpolation('process.exit()')}`;
    expect(renderSummary('[{{rule}}] {{value}}', { ...rule, name }, values)).toBe(`[${name}] 812.5`);
  });

  it('should cut what values expand to at the rendered limit', () => {
    const longName = { ...rule, name: 'n'.repeat(200) };
    const rendered = renderSummary('{{rule}}'.repeat(125), longName, values);
    expect(rendered).toHaveLength(MAX_RENDERED_LENGTH);
    expect(rendered.endsWith('…')).toBe(true);
  });
});

describe('templateProblems', () => {
  it('should name unknown placeholders, prototype names and expressions included', () => {
    for (const placeholder of [
      '{{label}}',
      '{{constructor}}',
      '{{__proto__}}',
      '{{toString}}',
      '{{value.constructor}}',
      '{{rule.name}}',
      '{{process.exit()}}',
      '{{ value + 1 }}',
      '{{}}',
    ]) {
      expect(templateProblems(`x ${placeholder} y`, 2)).toEqual([
        `has an unknown placeholder ${placeholder} (known: ${PLACEHOLDERS.join(', ')})`,
      ]);
    }
  });

  it('should refuse a condition number the rule does not have, or on a name that takes none', () => {
    expect(templateProblems('{{value.3}}', 2)).toEqual(['has {{value.3}}, but the rule has 2 condition(s)']);
    expect(templateProblems('{{value.2}}', 1)).toEqual(['has {{value.2}}, but the rule has 1 condition(s)']);
    expect(templateProblems('{{severity.1}}', 2)).toEqual([
      'has {{severity.1}}, but severity takes no condition number',
    ]);
    expect(templateProblems('{{value.0}}', 2)[0]).toMatch(/unknown placeholder \{\{value\.0\}\}/);
  });

  it('should refuse braces that open or close no placeholder', () => {
    for (const template of ['{{value}', '{{value', 'value}}', '{{ {value} }}', '{{{{value}}}}']) {
      expect(templateProblems(template, 1)).toContain('has unbalanced {{ or }}');
    }
    expect(templateProblems('a single { or } is text', 1)).toEqual([]);
  });
});

describe('templates fuzzed', () => {
  const FRAGMENTS = [
    '{{',
    '}}',
    '{',
    '}',
    '.',
    '1',
    '2',
    '9',
    ' ',
    'value',
    'rule',
    'metric',
    'severity',
    'threshold',
    'constructor',
    '__proto__',
    'prototype',
    'toString',
    interpolation('globalThis.pwned = 1'),
    '`',
    '$&',
    '$1',
    "')()",
    'constructor.constructor("globalThis.pwned = 1")()',
    '\u0000',
    '\u202e',
    'é',
    '🙂',
    '\n',
  ];
  const KNOWN = ['{{rule}}', '{{severity}}', '{{metric}}', '{{value}}', '{{value.2}}', '{{ threshold.1 }}'];

  afterEach(() => {
    // Nothing a template held ran, nor wrote to a prototype.
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    expect(({} as { pwned?: unknown }).pwned).toBeUndefined();
  });

  it('should never throw, run code or exceed the limit, and leave no placeholder in a template it accepted', () => {
    const next = random(12);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T;
    let accepted = 0;
    for (let i = 0; i < 5_000; i++) {
      const parts = Array.from({ length: 1 + Math.floor(next() * 30) }, () =>
        next() < 0.3 ? pick(KNOWN) : pick(FRAGMENTS),
      );
      const template = parts.join('');
      const name = Array.from({ length: Math.floor(next() * 8) }, () => pick(FRAGMENTS)).join('');
      const value = pick([0, -1.5, 1e308, Number.NaN, null, 42]);
      const hostile = { ...rule, name };
      const problems = templateProblems(template, conditions.length);
      const rendered = renderSummary(template, hostile, { 'p95(api_response_time)[M5]': value });
      expect(rendered.length).toBeLessThanOrEqual(MAX_RENDERED_LENGTH);
      if (problems.length > 0) continue;
      accepted++;
      // Every {{…}} was a known placeholder and is gone (names and values here hold no braces).
      const plain = renderSummary(template, { ...rule, name: 'n' }, values);
      expect(plain).not.toMatch(/\{\{|\}\}/);
    }
    // The generator made both kinds: this run is not all refusals.
    expect(accepted).toBeGreaterThan(100);
  });
});
