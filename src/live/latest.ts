// An async iterator that keeps only the newest value not yet taken: a slow client of a live view gets the
// current state, never a growing backlog of stale ones.

export interface LatestIterator<T> extends AsyncIterableIterator<T> {
  push(value: T): void;
  /** Ends the stream with `error`, after the value not yet taken: its reader is told why, not left waiting. */
  fail(error: unknown): void;
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
  let waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | null = null;
  let done = false;
  let failure: { error: unknown } | null = null;
  const iterator: LatestIterator<T> = {
    push(value) {
      if (done) return;
      if (waiting) {
        const { resolve } = waiting;
        waiting = null;
        resolve({ value, done: false });
      } else {
        pending = { value: pending ? merge(pending.value, value) : value };
      }
    },
    fail(error) {
      if (done) return;
      done = true;
      failure = { error };
      onReturn();
      if (waiting) {
        const { reject } = waiting;
        waiting = null;
        failure = null;
        reject(error);
      }
    },
    async next() {
      if (pending) {
        const { value } = pending;
        pending = null;
        return { value, done: false };
      }
      if (failure) {
        const { error } = failure;
        failure = null;
        throw error;
      }
      if (done) return { value: undefined, done: true };
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
      });
    },
    async return() {
      if (!done) {
        done = true;
        pending = null;
        waiting?.resolve({ value: undefined, done: true });
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
