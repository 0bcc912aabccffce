/**
 * Reconnect pacing: exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog):
 * the n-th consecutive retry waits a uniformly random time in [0, min(cap, base · 2ⁿ)). Full jitter spreads a fleet
 * of replicas that all lost their sockets at once (a platform restart) over the whole window instead of letting them
 * reconnect in lock-step; the cap keeps a long outage (or revoked credentials) at one attempt a minute, never a tight
 * loop.
 */
export interface BackoffPolicy {
  /** The first retry's window, ms. @default 1000 */
  readonly baseMs: number;
  /** The largest window, ms. @default 60000 */
  readonly capMs: number;
  /**
   * A connection that stayed up this long resets the retry count: its loss is a fresh incident, retried within
   * `baseMs`. One that drops sooner (a server accepting and closing at once) keeps counting, so flapping backs off.
   * @default 60000
   */
  readonly stableMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, stableMs: 60_000 };

/**
 * The wait before retry number `retry`: 0 for the first retry after a loss or a failed attempt (a window of `baseMs`),
 * 1 for the second (twice that), and so on up to `capMs`.
 * @param random a uniform number in [0, 1), injected for tests.
 */
export function backoffDelay(retry: number, policy: BackoffPolicy, random: () => number): number {
  // 2 ** retry overflows to Infinity long after it passes any cap; Math.min keeps the window finite.
  const window = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * window);
}
