// How the instances share the outbox's partitions (pure). The outbox is split into a fixed number of partitions by
// the transaction that published the event (a hash of its id modulo the count, store.ts): the events of one publish
// stay together, in order, and publishes spread over the partitions whatever the events hold. Each partition has one
// processor at a time, holding its lease. Every processing process announces
// itself (a heartbeat) and, from the same list of live members, works out its own fair share: with k members and P
// partitions, the first P mod k members in id order take ⌈P/k⌉ and the others ⌊P/k⌋, so shares add up to P and
// none exceeds ⌈P/k⌉. A member holding more than its share releases the extras; one holding fewer takes free ones.

export interface PartitionPlan {
  /** This member's fair share. */
  share: number;
  /** Partitions held beyond the share, to release. */
  release: number[];
  /** Free partitions to try, in order, until the share is held (others may take some first). */
  candidates: number[];
}

/** Live members, this one always among them, in the order shares are given out. */
export function membersInOrder(members: readonly string[], self: string): string[] {
  return [...new Set([...members, self])].sort();
}

export function planPartitions({
  members,
  self,
  partitions,
  held,
}: {
  members: readonly string[];
  self: string;
  partitions: number;
  held: Iterable<number>;
}): PartitionPlan {
  const ordered = membersInOrder(members, self);
  const k = ordered.length;
  const place = ordered.indexOf(self);
  const share = Math.floor(partitions / k) + (place < partitions % k ? 1 : 0);
  const holding = [...held].sort((a, b) => a - b);
  const release = holding.slice(share);
  const kept = new Set(holding.slice(0, share));
  // Each member starts looking at its own part of the range, so members taking at once seldom race for one.
  const start = Math.floor((place * partitions) / k);
  const candidates: number[] = [];
  if (kept.size < share) {
    for (let i = 0; i < partitions; i++) {
      const partition = (start + i) % partitions;
      if (!kept.has(partition) && !release.includes(partition)) candidates.push(partition);
    }
  }
  return { share, release, candidates };
}
