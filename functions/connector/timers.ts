/**
 * The clock and timers the connector schedules with, injected so tests drive reconnect backoff, keep-alive pings and
 * local retries without waiting on the wall clock.
 */
export interface Timers {
  /** Epoch ms. */
  now(): number;
  /** Runs `run` once after `ms`; the handle cancels it. Timers never keep the process alive on their own. */
  setTimeout(run: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** An opaque handle from `Timers.setTimeout`, only ever passed back to `clearTimeout`. */
export type TimerHandle = object;

/** Node's timers, unref'd: a connector is kept alive by its sockets and its health server, not by a pending retry. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    const handle = setTimeout(run, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Resolves after `ms` on the given timers (a local retry's pause). */
export function pause(timers: Timers, ms: number): Promise<void> {
  return new Promise((resolve) => {
    timers.setTimeout(resolve, ms);
  });
}
