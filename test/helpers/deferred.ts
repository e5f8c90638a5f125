// Promises a test settles by hand, and a recorder that wakes its waiters on each new item, so a test waits on the
// event it means rather than on time passing.

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

interface Waiter<T> {
  test: (items: readonly T[]) => boolean;
  resolve: () => void;
}

/** Items as they arrive; `waitFor` resolves as soon as the items seen so far satisfy a test. */
export class Recorder<T> {
  readonly items: T[] = [];
  private readonly waiters = new Set<Waiter<T>>();

  /** Bound, so it can be handed out as a listener. */
  readonly push = (item: T): void => {
    this.items.push(item);
    for (const waiter of this.waiters) {
      if (!waiter.test(this.items)) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  };

  waitFor(test: (items: readonly T[]) => boolean, timeoutMs = 10_000): Promise<T[]> {
    if (test(this.items)) return Promise.resolve(this.items);
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${timeoutMs} ms; recorded ${this.items.length} item(s)`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Resolves once at least `count` items arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<T[]> {
    return this.waitFor((items) => items.length >= count, timeoutMs);
  }
}
