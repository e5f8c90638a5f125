// How a subscription field may be shared between subscribers (transport/shared-subscriptions.ts). A field declares
// it in its extensions; one that declares nothing is executed for each subscriber on its own.

export interface SubscriptionSharing {
  /** Each message supersedes the previous one: a late joiner gets the latest at once, a slow socket the newest. */
  snapshot: boolean;
  /** An argument that, when given, makes the stream the subscriber's own (a replay from a point it names). */
  perSubscriberWith?: string;
  /**
   * For snapshots whose messages build on each other (a series, then its changed points): the event that stands
   * alone as of `event`, or null when `event` already does. A late joiner is sent it, and so is a subscriber whose
   * socket dropped a message (outbound coalescing), so nobody is left with a gap.
   */
  whole?: (event: unknown) => unknown | null;
}

const KEY = 'jackdawSharing';

export function shared(sharing: SubscriptionSharing): Record<string, unknown> {
  return { [KEY]: sharing };
}

export function sharingOf(
  extensions: Readonly<Record<string, unknown>> | null | undefined,
): SubscriptionSharing | null {
  return (extensions?.[KEY] as SubscriptionSharing | undefined) ?? null;
}
