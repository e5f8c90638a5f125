// Validation of what issue 12 adds to rules (summary, notifyOnResolve, repeatIntervalSeconds) and of silences: every
// problem is named, with the setting that bounds it.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type AlertRuleInput, DEFAULT_NOTICE_LIMITS, validateRuleInput } from '../../src/alerts/rules.js';
import { SILENCE_LIMITS, type SilenceInput, validateSilenceInput } from '../../src/alerts/silences.js';

const rule: AlertRuleInput = {
  name: 'Slow API',
  severity: 'HIGH',
  conditions: [{ metric: 'api_response_time', operator: 'GT', threshold: 500 }],
};
const policy = { secretSet: true, allowPrivateTargets: true };
const limits = { maxSummaryLength: 40, minRepeatIntervalSeconds: 30 };

function problemsOf(input: unknown): string[] {
  const result = validateRuleInput(input, policy, limits);
  return result.ok ? [] : result.problems;
}

describe('rule notifications', () => {
  it('should default notifyOnResolve to true, and keep an explicit false', () => {
    const defaults = validateRuleInput({ ...rule, notifyOnResolve: null }, policy);
    expect(defaults.ok && defaults.value.notifyOnResolve).toBe(true);
    const off = validateRuleInput({ ...rule, notifyOnResolve: false }, policy);
    expect(off.ok && off.value.notifyOnResolve).toBe(false);
    expect(DEFAULT_NOTICE_LIMITS.minRepeatIntervalSeconds).toBeGreaterThan(0);
  });

  it('should refuse a repeat interval that is negative, zero, fractional or below the minimum', () => {
    const bound = 'must be at least 30 (MIN_REPEAT_INTERVAL_SECONDS), or null for no repeats';
    expect(problemsOf({ ...rule, repeatIntervalSeconds: -60 })).toEqual([`repeatIntervalSeconds ${bound}`]);
    expect(problemsOf({ ...rule, repeatIntervalSeconds: 0 })).toEqual([`repeatIntervalSeconds ${bound}`]);
    expect(problemsOf({ ...rule, repeatIntervalSeconds: 29 })).toEqual([`repeatIntervalSeconds ${bound}`]);
    expect(problemsOf({ ...rule, repeatIntervalSeconds: 45.5 })).toEqual([
      'repeatIntervalSeconds must be a whole number of seconds',
    ]);
    expect(problemsOf({ ...rule, repeatIntervalSeconds: 30 })).toEqual([]);
  });

  it('should refuse a summary that is too long or names an unknown placeholder, and store a blank one as none', () => {
    expect(problemsOf({ ...rule, summary: 'x'.repeat(41) })).toEqual([
      'summary must be at most 40 characters (MAX_SUMMARY_LENGTH)',
    ]);
    expect(problemsOf({ ...rule, summary: '{{rule}} {{host}}' })).toEqual([
      expect.stringMatching(/^summary has an unknown placeholder \{\{host\}\} \(known: rule, severity, labels, metric/),
    ]);
    expect(problemsOf({ ...rule, summary: '{{value.2}}' })).toEqual([
      'summary has {{value.2}}, but the rule has 1 condition(s)',
    ]);
    const blank = validateRuleInput({ ...rule, summary: '   ' }, policy, limits);
    expect(blank.ok && blank.value.summary).toBeNull();
  });
});

describe('validateSilenceInput', () => {
  const now = new Date('2026-11-27T12:00:00Z');
  const later = new Date('2026-11-27T13:00:00Z');
  const ruleId = '0b9d5b1e-4b1a-4c55-9a7e-3d8f4c2a1b00';
  const silence: SilenceInput = { ruleIds: [ruleId], endsAt: later, comment: 'deploying' };
  const problemsOf = (input: SilenceInput) => {
    const result = validateSilenceInput(input, now, 20);
    return result.ok ? [] : result.problems;
  };

  it('should start now by default and keep the ids lower case and distinct', () => {
    const result = validateSilenceInput(
      { ...silence, ruleIds: [ruleId.toUpperCase(), ruleId], severities: ['LOW', 'LOW'] },
      now,
      20,
    );
    expect(result).toEqual({
      ok: true,
      value: { ruleIds: [ruleId], severities: ['LOW'], labels: [], startsAt: now, endsAt: later, comment: 'deploying' },
    });
  });

  it('should name every problem', () => {
    expect(problemsOf({ ...silence, startsAt: later, endsAt: now })).toEqual([
      'endsAt must be after startsAt',
      'endsAt must be in the future',
    ]);
    expect(problemsOf({ ...silence, ruleIds: [], severities: null })).toEqual([
      'ruleIds, severities or labels must name what to silence (a silence of everything is refused)',
    ]);
    expect(problemsOf({ ...silence, ruleIds: ['rule-1'] })).toEqual(['ruleIds name no rule: rule-1']);
    expect(problemsOf({ ...silence, comment: '  ' })).toEqual([
      'comment must not be empty: say why notices are held back',
    ]);
    expect(problemsOf({ ...silence, comment: 'x'.repeat(21) })).toEqual([
      'comment must be at most 20 characters (MAX_COMMENT_LENGTH)',
    ]);
    const many = Array.from({ length: SILENCE_LIMITS.maxRuleIds + 1 }, () => randomUUID());
    expect(problemsOf({ ...silence, ruleIds: many })).toEqual([
      `ruleIds must have at most ${SILENCE_LIMITS.maxRuleIds} rules`,
    ]);
  });
});
