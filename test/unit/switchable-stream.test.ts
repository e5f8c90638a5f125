// The stream graphql-ws iterates for a subscription whose source a token refresh may switch or end.
import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { switchableStream } from '../../src/transport/switchable-stream.js';

/** A source fed by hand, which records whether it was ended. */
function source() {
  const queued: ExecutionResult[] = [];
  let waiting: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  const state = { ended: false };
  const iterator: AsyncIterator<ExecutionResult> = {
    next: () =>
      new Promise((resolve) => {
        const value = queued.shift();
        if (value) resolve({ value, done: false });
        else if (state.ended) resolve({ value: undefined, done: true });
        else waiting = resolve;
      }),
    return: async () => {
      state.ended = true;
      waiting?.({ value: undefined, done: true });
      waiting = null;
      return { value: undefined, done: true };
    },
  };
  const push = (value: ExecutionResult) => {
    if (waiting) {
      const resolve = waiting;
      waiting = null;
      resolve({ value, done: false });
    } else queued.push(value);
  };
  return { iterator, push, state };
}

describe('switchableStream', () => {
  it('should pass results through, then read from the new source after a switch, ending the old one', async () => {
    const first = source();
    const second = source();
    const stream = switchableStream(first.iterator);
    first.push({ data: { n: 1 } });
    expect(await stream.next()).toEqual({ value: { data: { n: 1 } }, done: false });
    const pending = stream.next();
    stream.switchTo(second.iterator);
    expect(first.state.ended).toBe(true);
    second.push({ data: { n: 2 } });
    expect(await pending).toEqual({ value: { data: { n: 2 } }, done: false });
  });

  it('should end with the given last result, even while a read is waiting, and end its source', async () => {
    const only = source();
    const stream = switchableStream(only.iterator);
    const pending = stream.next();
    stream.endWith({ errors: [] });
    expect(await pending).toEqual({ value: { errors: [] }, done: false });
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(only.state.ended).toBe(true);
    expect(stream.ended).toBe(true);
  });

  it('should end a source switched to after the stream ended', async () => {
    const first = source();
    const late = source();
    const stream = switchableStream(first.iterator);
    await stream.return?.();
    stream.switchTo(late.iterator);
    expect(late.state.ended).toBe(true);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });
});
