/**
 * Bounds concurrent generations: up to `concurrency` run, up to `maxQueue` wait in FIFO order, the rest are refused
 * (the server answers 429, as SageMaker does when an endpoint is saturated).
 */
export interface RequestLimiter {
  /** Resolves with a release function once a slot is free; resolves `undefined` if the queue is full. */
  acquire(): Promise<(() => void) | undefined>;
  readonly inFlight: number;
  readonly queued: number;
}

export function createRequestLimiter(concurrency: number, maxQueue: number): RequestLimiter {
  let inFlight = 0;
  const waiting: Array<() => void> = [];

  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else inFlight--;
  };
  const onceRelease = (): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    get inFlight() {
      return inFlight;
    },
    get queued() {
      return waiting.length;
    },
    acquire() {
      if (inFlight < concurrency) {
        inFlight++;
        return Promise.resolve(onceRelease());
      }
      if (waiting.length >= maxQueue) return Promise.resolve(undefined);
      return new Promise((resolve) => waiting.push(() => resolve(onceRelease())));
    },
  };
}
