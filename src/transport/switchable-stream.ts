// The stream graphql-ws iterates for one subscription, around the one that produces its results, so that a token
// refresh can change what is underneath without graphql-ws (or the client) seeing the subscription end: `switchTo`
// puts another source in its place (a shared group of the new role), `endWith` ends it with a last result (the
// new role may not hold it).
import type { ExecutionResult } from 'graphql';

type Source = AsyncIterator<ExecutionResult>;

export interface SwitchableStream extends AsyncIterableIterator<ExecutionResult> {
  /** Reads from `source` from now on; the previous source is ended. */
  switchTo(source: Source): void;
  /** Sends `last` as the subscription's final result, then completes it; the source is ended. */
  endWith(last: ExecutionResult): void;
  readonly ended: boolean;
}

const DONE: IteratorResult<ExecutionResult> = { value: undefined, done: true };

export function switchableStream(first: Source): SwitchableStream {
  let source = first;
  /** The read under way on `source`, so a switch never leaves two reads on one source. */
  let reading: Promise<IteratorResult<ExecutionResult>> | null = null;
  let last: ExecutionResult | null = null;
  let ended = false;
  /** Wakes a `next` waiting on a source that was switched away or ended. */
  let interrupt: (() => void) | null = null;
  /** Counts switches and ends: a read that began before one is not this stream's to answer with. */
  let changes = 0;

  const endSource = (old: Source) => {
    old.return?.().catch(() => {});
  };
  const wake = () => {
    changes += 1;
    const waiting = interrupt;
    interrupt = null;
    waiting?.();
  };

  const end = () => {
    if (ended) return;
    ended = true;
    last = null;
    endSource(source);
    wake();
  };

  const stream: SwitchableStream = {
    get ended() {
      return ended;
    },
    async next() {
      for (;;) {
        if (last) {
          const result = last;
          last = null;
          return { value: result, done: false };
        }
        if (ended) return DONE;
        const seen = changes;
        reading ??= source.next();
        const interrupted = new Promise<null>((resolve) => {
          interrupt = () => resolve(null);
        });
        const outcome = await Promise.race([reading, interrupted]);
        // Switched or ended meanwhile (ending a source settles its read too, in either order): look again.
        if (outcome === null || seen !== changes) continue;
        reading = null;
        if (outcome.done) ended = true;
        return outcome;
      }
    },
    async return() {
      end();
      return DONE;
    },
    async throw(error: unknown) {
      end();
      throw error;
    },
    switchTo(next) {
      if (ended) {
        endSource(next);
        return;
      }
      const old = source;
      source = next;
      reading = null;
      endSource(old);
      wake();
    },
    endWith(result) {
      if (ended) return;
      ended = true;
      last = result;
      endSource(source);
      wake();
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
