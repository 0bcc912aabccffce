/**
 * Retry policy for DynamoDB batch calls that leave part of their work undone (`UnprocessedItems`,
 * `UnprocessedKeys`): exponential backoff with full jitter, as the DynamoDB developer guide asks.
 */
export interface BatchRetryOptions {
  /** Attempts including the first. @default 5 */
  readonly maxAttempts?: number;
  /** First backoff cap; doubles per attempt. @default 50 */
  readonly baseDelayMs?: number;
  /** @default 1_000 */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function maxAttemptsOf(options: BatchRetryOptions): number {
  return options.maxAttempts ?? 5;
}

/** Waits before attempt `attempt` (2, 3, …): a random time up to base × 2^(attempt − 2), capped. */
export async function backOff(attempt: number, options: BatchRetryOptions): Promise<void> {
  const cap = Math.min(options.maxDelayMs ?? 1_000, (options.baseDelayMs ?? 50) * 2 ** (attempt - 2));
  await (options.sleep ?? defaultSleep)(Math.floor((options.random ?? Math.random)() * cap));
}
