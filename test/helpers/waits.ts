// Waiting on what happened (a message arrived, a call was made, a list grew) rather than on a clock: each wait is
// woken by the thing it waits for, and fails with a description after its timeout.

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Something that changes: `until(check)` resolves once `check()` holds, re-checked at every `changed()`. */
export class Condition {
  private readonly waiters = new Set<() => void>();

  changed(): void {
    for (const wake of [...this.waiters]) wake();
  }

  until(check: () => boolean, timeoutMs = 25_000, describe: () => string = () => 'a condition'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = (error?: unknown) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        if (error === undefined) resolve();
        else reject(error);
      };
      const wake = () => {
        try {
          if (check()) done();
        } catch (error) {
          done(error);
        }
      };
      const timer = setTimeout(
        () => done(new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}`)),
        timeoutMs,
      );
      this.waiters.add(wake);
      wake();
    });
  }
}

/** A list that can be waited on: `until(check)` resolves with the items once `check(items)` holds. */
export class Recording<T> {
  readonly items: T[] = [];
  private readonly condition = new Condition();

  /** Bound, so it can be handed out as a listener. */
  readonly push = (...items: T[]): void => {
    this.items.push(...items);
    this.condition.changed();
  };

  async until(check: (items: T[]) => boolean, timeoutMs = 25_000): Promise<T[]> {
    await this.condition.until(
      () => check(this.items),
      timeoutMs,
      () => `a condition on ${this.items.length} recorded items`,
    );
    return this.items;
  }

  /** Resolves once at least `count` items were recorded. */
  atLeast(count: number, timeoutMs = 25_000): Promise<T[]> {
    return this.until((items) => items.length >= count, timeoutMs);
  }
}
