// alertRuleState on the serving side: the latest state of every rule, as the alert engine (in the processing process)
// publishes it, so that a new subscriber gets the current state at once; then each change, per subscriber.
import { type Label, labelPartOfLabels } from '../aggregation/labels.js';
import type { Bus, Unsubscribe } from '../bus/bus.js';
import { busIterator } from '../bus/subscription.js';
import type { RuleStateMessage } from '../bus/topics.js';

export interface AlertRuleState {
  ruleId: string;
  /** The label set of a rule with groupBy (each has a state of its own); none otherwise. */
  labels: Label[];
  state: RuleStateMessage['state'];
  values: Record<string, number | null>;
  pendingSince: Date | null;
  firesAt: Date | null;
  at: Date;
}

function fromMessage(message: RuleStateMessage): AlertRuleState {
  return {
    ...message,
    labels: message.labels ?? [],
    pendingSince: message.pendingSince === null ? null : new Date(message.pendingSince),
    firesAt: message.firesAt === null ? null : new Date(message.firesAt),
    at: new Date(message.at),
  };
}

/** A rule's state, or one label set's of a rule with groupBy. */
function stateKey({ ruleId, labels }: RuleStateMessage): string {
  return labels?.length ? `${ruleId}{${labelPartOfLabels(labels)}}` : ruleId;
}

/** What a subscriber sees change: the state, its timing and the values, not the time of the evaluation. */
function fingerprint({ state, pendingSince, firesAt, values }: RuleStateMessage): string {
  return JSON.stringify([state, pendingSince, firesAt, values]);
}

export class RuleStateBoard {
  private readonly latest = new Map<string, RuleStateMessage>();
  /** States (stateKey) in the snapshot being received (its chunks before the last). */
  private inSnapshot = new Set<string>();
  private listening: Promise<Unsubscribe> | null = null;

  constructor(
    private readonly bus: Bus,
    private readonly maxBuffered: number,
  ) {}

  /** Listens from the first subscriber on; the engine's next snapshot (within a second) fills the board. */
  private listen(): Promise<Unsubscribe> {
    this.listening ??= this.bus.subscribe('alertRules:state', ({ states, complete }) => {
      for (const state of states) {
        this.latest.set(stateKey(state), state);
        this.inSnapshot.add(stateKey(state));
      }
      if (!complete) return;
      // States missing from a whole snapshot are of rules deleted or disabled, or of label sets no longer tracked.
      for (const key of this.latest.keys()) if (!this.inSnapshot.has(key)) this.latest.delete(key);
      this.inSnapshot = new Set();
    });
    return this.listening;
  }

  async stop(): Promise<void> {
    const unsubscribe = await this.listening;
    unsubscribe?.();
    this.listening = null;
  }

  /** The current state of each rule asked for (every rule when none), then each change. */
  subscribe(ruleIds: readonly string[] | null | undefined): AsyncIterableIterator<AlertRuleState> {
    const wanted = ruleIds?.length ? new Set(ruleIds) : null;
    const sent = new Map<string, string>();
    const changes = (states: Iterable<RuleStateMessage>) => {
      const out: AlertRuleState[] = [];
      for (const state of states) {
        if (wanted && !wanted.has(state.ruleId)) continue;
        const print = fingerprint(state);
        const key = stateKey(state);
        if (sent.get(key) === print) continue;
        sent.set(key, print);
        out.push(fromMessage(state));
      }
      return out;
    };
    return busIterator({
      bus: this.bus,
      topic: 'alertRules:state',
      select: ({ states }) => changes(states),
      maxBuffered: this.maxBuffered,
      initial: async () => {
        await this.listen();
        return changes(this.latest.values());
      },
    });
  }
}
