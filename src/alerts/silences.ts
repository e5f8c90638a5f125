// Silences: between startsAt and endsAt, alerts they match are stored and pushed to subscribers as usual, marked
// with the silence, but no notice is sent; one still firing when its silence ends is notified then. Pure: the shape
// and the validation; the store keeps them and the notices follow from them (store.ts, queueDueNotices).
import { type Label, matchersProblem, sortedLabels } from '../aggregation/labels.js';
import type { Prisma, Silence as SilenceRow } from '../generated/prisma/client.js';
import { isUuid } from '../ids.js';
import { labelsOfItems } from './label-sets.js';
import { SEVERITIES, type Severity } from './rules.js';

export interface Silence {
  id: string;
  ruleIds: string[];
  severities: Severity[];
  /** Label matchers: an alert's label set must hold them all (the label set a rule with groupBy fired for). */
  labels: Label[];
  startsAt: Date;
  endsAt: Date;
  comment: string;
  createdBy: string;
  /** In force now: startsAt ≤ now < endsAt. */
  active: boolean;
}

/** As the API takes it; null means "not given", as for rule inputs. */
export interface SilenceInput {
  ruleIds?: readonly string[] | null;
  severities?: readonly Severity[] | null;
  labels?: readonly Label[] | null;
  startsAt?: Date | null;
  endsAt: Date;
  comment: string;
}

export type SilenceDefinition = Omit<Silence, 'id' | 'createdBy' | 'active'>;

export const SILENCE_LIMITS = {
  /** Silences not yet ended (MAX_SILENCES): each costs a look at every open alert once a second. */
  maxSilences: 1_000,
  /** Of a silence's or an acknowledgement's comment (MAX_COMMENT_LENGTH): a note, not a document. */
  maxCommentLength: 1_000,
  /** Rules one silence may name: more is a severity's or a few silences' job. */
  maxRuleIds: 100,
} as const;

export type SilenceValidation = { ok: true; value: SilenceDefinition } | { ok: false; problems: string[] };

/** Checks a silence as a client sent it at `now`; the rule ids' existence is the store's to check. */
export function validateSilenceInput(input: SilenceInput, now: Date, maxCommentLength: number): SilenceValidation {
  const problems: string[] = [];
  const ruleIds = [...new Set((input.ruleIds ?? []).map((id) => id.toLowerCase()))];
  const severities = [...new Set(input.severities ?? [])];
  const labels = sortedLabels(input.labels ?? []);
  const startsAt = input.startsAt ?? now;
  const { endsAt } = input;
  const comment = input.comment.trim();
  const badIds = ruleIds.filter((id) => !isUuid(id));
  if (badIds.length > 0) problems.push(`ruleIds name no rule: ${badIds.join(', ')}`);
  if (ruleIds.length > SILENCE_LIMITS.maxRuleIds) {
    problems.push(`ruleIds must have at most ${SILENCE_LIMITS.maxRuleIds} rules`);
  }
  const badSeverities = severities.filter((severity) => !SEVERITIES.includes(severity));
  if (badSeverities.length > 0) problems.push(`severities must be among ${SEVERITIES.join(', ')}`);
  const labelProblem = matchersProblem(labels);
  if (labelProblem) problems.push(`labels are not matchers: ${labelProblem}`);
  if (ruleIds.length === 0 && severities.length === 0 && labels.length === 0) {
    problems.push('ruleIds, severities or labels must name what to silence (a silence of everything is refused)');
  }
  if (Number.isNaN(startsAt.getTime()) || Number.isNaN(endsAt.getTime()))
    problems.push('startsAt and endsAt must be dates');
  else {
    if (endsAt <= startsAt) problems.push('endsAt must be after startsAt');
    if (endsAt <= now) problems.push('endsAt must be in the future');
  }
  if (comment === '') problems.push('comment must not be empty: say why notices are held back');
  if (comment.length > maxCommentLength) {
    problems.push(`comment must be at most ${maxCommentLength} characters (MAX_COMMENT_LENGTH)`);
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { ruleIds, severities, labels, startsAt, endsAt, comment } };
}

/** Silences in force at `now`. */
export function activeWhere(now: Date): Prisma.SilenceWhereInput {
  return { startsAt: { lte: now }, endsAt: { gt: now } };
}

export function toSilence(row: SilenceRow, now: Date): Silence {
  return {
    id: row.id,
    ruleIds: row.ruleIds,
    severities: row.severities,
    labels: labelsOfItems(row.labels),
    startsAt: row.startsAt,
    endsAt: row.endsAt,
    comment: row.comment,
    createdBy: row.createdBy,
    active: row.startsAt <= now && now < row.endsAt,
  };
}
