import { fullJitterDelay } from '#model/classify-error';
import { EmbeddingError } from './embedder';

/**
 * How the remote embedders run one request: each attempt under its own time limit and the caller's signal, failed
 * attempts classified, the retryable ones repeated after a full-jitter back-off (the model clients' `fullJitterDelay`)
 * or the server's `Retry-After` when that is longer.
 */

/** A failure mapped to the error the caller sees, and whether another attempt could succeed. */
export interface ClassifiedFailure {
  readonly error: EmbeddingError;
  readonly retryable: boolean;
  /** The server's own requested wait (`Retry-After`), when it gave one. */
  readonly retryAfterMs?: number | undefined;
}

export interface RetryPolicy {
  /** Total attempts, including the first. */
  readonly maxAttempts: number;
  /** @default 200 */
  readonly baseDelayMs?: number;
  /** @default 2_000 */
  readonly maxDelayMs?: number;
  /**
   * The longest `Retry-After` waited for. A server asking for more is not retried at once against its wish: the
   * call fails (`throttled`) and the caller, which knows whether it is answering a question or ingesting, decides.
   * @default 5_000
   */
  readonly maxRetryAfterMs?: number;
  /** @default Math.random */
  readonly random?: () => number;
  readonly signal?: AbortSignal | undefined;
}

/** The caller's abort, as the `timeout` the contract names it (the same reading as the model clients' `linkAbort`). */
export function callerAborted(signal: AbortSignal, cause?: unknown): EmbeddingError {
  return new EmbeddingError('timeout', 'The embedding call was aborted by the caller', {
    cause: cause ?? signal.reason,
  });
}

/**
 * Runs `attempt` with a signal that aborts after `timeoutMs` or when `external` does. Whatever the attempt throws
 * because of that abort becomes a `timeout` EmbeddingError naming which of the two fired; other errors pass through.
 */
export async function withTimeout<T>(
  what: string,
  timeoutMs: number,
  external: AbortSignal | undefined,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (external?.aborted) throw callerAborted(external);
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = (): void => controller.abort();
  external?.addEventListener('abort', onAbort, { once: true });
  try {
    return await attempt(controller.signal);
  } catch (err) {
    if (err instanceof EmbeddingError) throw err;
    if (external?.aborted) throw callerAborted(external, err);
    if (timedOut) throw new EmbeddingError('timeout', `${what} did not answer within ${timeoutMs} ms`, { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
    external?.removeEventListener('abort', onAbort);
  }
}

/** Attempts until one succeeds, a failure is not retryable, attempts run out, or the caller aborts. */
export async function withRetries<T>(
  attempt: () => Promise<T>,
  classify: (err: unknown) => ClassifiedFailure,
  policy: RetryPolicy,
): Promise<T> {
  const maxRetryAfterMs = policy.maxRetryAfterMs ?? 5_000;
  for (let attemptNo = 1; ; attemptNo++) {
    try {
      return await attempt();
    } catch (err) {
      const { error, retryable, retryAfterMs } = classify(err);
      if (!retryable || attemptNo >= policy.maxAttempts) throw error;
      if (policy.signal?.aborted) throw callerAborted(policy.signal, error);
      if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) {
        throw new EmbeddingError(
          error.code,
          `${error.message}; the server asks to retry after ${Math.ceil(retryAfterMs / 1_000)} s, longer than the ` +
            `${maxRetryAfterMs / 1_000} s this client waits`,
          { cause: error.cause },
        );
      }
      const backOff = fullJitterDelay(
        attemptNo - 1,
        policy.baseDelayMs ?? 200,
        policy.maxDelayMs ?? 2_000,
        policy.random ?? Math.random,
      );
      await sleep(Math.max(backOff, retryAfterMs ?? 0), policy.signal);
    }
  }
}

/** Resolves after `ms`, or rejects with `callerAborted` as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      if (signal) reject(callerAborted(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMsOf(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
