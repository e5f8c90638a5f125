// How instances share the outbox's partitions: fair shares that add up to the count, and a plan that converges on
// them from any starting point (members joining, leaving, holding stale extras) without ever taking a partition twice.
import { describe, expect, it } from 'vitest';
import { partitionsOfMember } from '../../src/events/partition-leases.js';
import { planPartitions } from '../../src/events/partitions.js';

/** One heartbeat of every member, in the given order, over leases shared through `holder`. */
function round(members: string[], partitions: number, holder: Map<number, string>, order: string[]): void {
  for (const self of order) {
    const held = [...holder].filter(([, owner]) => owner === self).map(([partition]) => partition);
    const plan = planPartitions({ members, self, partitions, held });
    for (const partition of plan.release) holder.delete(partition);
    let holding = held.length - plan.release.length;
    for (const partition of plan.candidates) {
      if (holding >= plan.share) break;
      if (holder.has(partition)) continue; // taken by another: SET NX fails
      holder.set(partition, self);
      holding += 1;
    }
  }
}

function countsOf(holder: Map<number, string>, members: string[]): number[] {
  return members.map((member) => [...holder.values()].filter((owner) => owner === member).length);
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('partition shares', () => {
  it('should give k members shares adding up to P, none above ⌈P/k⌉', () => {
    for (let partitions = 1; partitions <= 16; partitions++) {
      for (let k = 1; k <= 6; k++) {
        const members = Array.from({ length: k }, (_, i) => `m${i}`);
        const shares = members.map((self) => planPartitions({ members, self, partitions, held: [] }).share);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(partitions);
        expect(Math.max(...shares)).toBe(Math.ceil(partitions / k));
      }
    }
  });

  it('should release what is beyond the share, highest first, and offer only partitions not kept', () => {
    const plan = planPartitions({ members: ['a', 'b'], self: 'a', partitions: 4, held: [3, 0, 2, 1] });
    expect(plan).toEqual({ share: 2, release: [2, 3], candidates: [] });
    const taking = planPartitions({ members: ['a', 'b'], self: 'b', partitions: 4, held: [] });
    expect(taking.share).toBe(2);
    expect(taking.candidates).toEqual([2, 3, 0, 1]); // b starts in its own half, so a and b seldom race
  });

  it('should converge to every partition held once, none above ⌈P/k⌉, within two heartbeats of a change', () => {
    const next = random(7);
    for (let trial = 0; trial < 300; trial++) {
      const partitions = 1 + Math.floor(next() * 12);
      const before = Array.from({ length: 1 + Math.floor(next() * 4) }, (_, i) => `m${i}`);
      const holder = new Map<number, string>();
      // Whatever the members held under the old membership: any partitions, possibly above any fair share.
      for (let partition = 0; partition < partitions; partition++)
        if (next() < 0.7) holder.set(partition, before[Math.floor(next() * before.length)] as string);
      // Members join and leave; those that left hold nothing any more (their leases lapsed).
      const after = [
        ...before.filter(() => next() < 0.7),
        ...Array.from({ length: Math.floor(next() * 3) }, (_, i) => `n${i}`),
      ];
      if (after.length === 0) after.push('n9');
      for (const [partition, owner] of holder) if (!after.includes(owner)) holder.delete(partition);
      const shuffled = () => [...after].sort(() => next() - 0.5);
      round(after, partitions, holder, shuffled());
      round(after, partitions, holder, shuffled());
      expect(holder.size).toBe(partitions);
      expect(Math.max(...countsOf(holder, after))).toBeLessThanOrEqual(Math.ceil(partitions / after.length));
    }
  });

  it('should read the partition count a member announces, so one running another count can be told', () => {
    expect(partitionsOfMember('4/0f8e1c2a-0000-4000-8000-000000000000')).toBe(4);
    expect(partitionsOfMember('16/abc')).toBe(16);
    expect(partitionsOfMember('local')).toBeNull();
  });
});
