// An async iterator that keeps only the newest value not yet taken: a slow client of a live view gets the
// current state, never a growing backlog of stale ones.

export interface LatestIterator<T> extends AsyncIterableIterator<T> {
  push(value: T): void;
}

/**
 * `merge` decides what a value not yet taken becomes when a newer one comes (default: the newer one), for streams
 * whose messages build on each other.
 */
export function latestIterator<T>(
  onReturn: () => void,
  merge: (pending: T, next: T) => T = (_pending, next) => next,
): LatestIterator<T> {
  let pending: { value: T } | null = null;
  let waiting: ((result: IteratorResult<T>) => void) | null = null;
  let done = false;
  const iterator: LatestIterator<T> = {
    push(value) {
      if (done) return;
      if (waiting) {
        const resolve = waiting;
        waiting = null;
        resolve({ value, done: false });
      } else {
        pending = { value: pending ? merge(pending.value, value) : value };
      }
    },
    async next() {
      if (pending) {
        const { value } = pending;
        pending = null;
        return { value, done: false };
      }
      if (done) return { value: undefined, done: true };
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    async return() {
      if (!done) {
        done = true;
        pending = null;
        waiting?.({ value: undefined, done: true });
        waiting = null;
        onReturn();
      }
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
