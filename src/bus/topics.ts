// Every pub/sub topic and its payload, in one place. Payloads cross Redis as JSON, so they hold only JSON values
// (dates as ISO strings).

export interface EventMessage {
  id: string;
  seq: string;
  type: string;
  timestamp: string;
  receivedAt: string;
  data: Record<string, unknown>;
  /** W3C trace context (tracing on only): the processor's batch span, which deliveries continue. */
  traceparent?: string;
  /** W3C trace context of the commit that stored the event, which deliveries link to. */
  publishTraceparent?: string;
}

export interface AlertMessage {
  id: string;
  ruleId: string;
  ruleName: string;
  severity: string;
  message: string;
  values: Record<string, number | null>;
  status: string;
  triggeredAt: string;
  resolvedAt: string | null;
  acknowledgedAt: string | null;
  /** Absent in messages from a server before silences and acknowledgement comments (issue 12). */
  silencedBy?: string | null;
  acknowledgedBy?: string | null;
  acknowledgeComment?: string | null;
  /** The label set it fired for; absent in messages from a server before alerts per label set. */
  labels?: { name: string; value: string }[];
  /** W3C trace context of the firing (tracing on only), which deliveries continue. */
  traceparent?: string;
}

/** Where one rule is, as the alert engine last evaluated it (alertRuleState). Times are ISO strings. */
export interface RuleStateMessage {
  ruleId: string;
  /** The label set of a rule with groupBy this state is of; none (or absent, from an older server) otherwise. */
  labels?: { name: string; value: string }[];
  state: 'INACTIVE' | 'PENDING' | 'FIRING';
  values: Record<string, number | null>;
  pendingSince: string | null;
  firesAt: string | null;
  at: string;
}

export interface Topics {
  /**
   * Committed events, in outbox order, broadcast by the stream processor in batches (a batch may take several
   * messages): `position` is the batch's in the broadcast log, `offset` the index in it of the message's first event.
   */
  'events:published': { events: EventMessage[]; position?: string; offset?: number };
  /** Metrics whose aggregates changed with the last applied batch. */
  'metrics:changed': {
    metrics: string[];
    /** Each metric's oldest sample written (epoch ms): the alert engine reads its buckets again from there on. */
    since?: Record<string, number>;
  };
  /**
   * A partition's aggregates are being rebuilt (`rebuilding`), or were (false, whether or not the rebuild succeeded):
   * every instance's alert engine stops trusting its cache, and the alert leader stops evaluating until every
   * partition has its state again.
   */
  'aggregates:replaced': { partition: number; rebuilding: boolean };
  'alerts:triggered': AlertMessage;
  'alerts:resolved': AlertMessage;
  /** Tells the stream processor (on whichever instance holds the lease) that the outbox has new events. */
  'processor:nudge': Record<string, never>;
  /** A rule was created, changed or deleted: the alert engine reloads its rules. */
  'alertRules:changed': { id: string };
  /**
   * Rule states from the alert engine: every enabled rule's once a second (`complete`: rules not in it are gone),
   * and a rule's at once when it changes state.
   */
  'alertRules:state': { states: RuleStateMessage[]; complete: boolean };
  /** An API key was revoked: every instance closes its sockets. */
  'apiKeys:revoked': { id: string };
}

export type Topic = keyof Topics;
