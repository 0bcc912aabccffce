import { ModelError } from '#core/errors';
import { type CircuitBreaker, type CircuitBreakerOptions, createCircuitBreaker } from './circuit-breaker';
import { type ClassifiedError, fullJitterDelay } from './classify-error';

/** What every model client takes besides its transport: retries, its breaker, and clocks for tests. */
export interface ModelCallOptions {
  retry?: {
    /** Total attempts, including the first. @default 3 */
    maxAttempts?: number;
    /** @default 200 */
    baseDelayMs?: number;
    /** @default 2_000 */
    maxDelayMs?: number;
  };
  breaker?: CircuitBreakerOptions;
  /** @default Date.now */
  now?: () => number;
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  random?: () => number;
}

/** A failure classified for the runner; `retryAfterMs` is the server's own wait (`Retry-After`), when it gave one. */
interface RunnerClassification extends ClassifiedError {
  retryAfterMs?: number | undefined;
}

export interface CallRunner {
  readonly breaker: CircuitBreaker;
  readonly now: () => number;
  /**
   * One model call: refused at once while the breaker is open, then attempts until one succeeds, the failure is not
   * retryable, attempts run out, `mayRetry` says no (a stream delivered words) or the next back-off would pass
   * `deadline`. Each attempt gets the time left (`budgetMs`) and its start time. Only faults on the server's side
   * count towards opening the breaker: a 4xx (or a refusal the classifier marks `endpointAnswered`) means it is alive
   * and answered.
   */
  run<T>(
    deadline: number,
    attempt: (budgetMs: number, attemptStart: number) => Promise<T>,
    mayRetry: () => boolean,
    classify: (err: unknown) => RunnerClassification,
  ): Promise<{ value: T; attempts: number }>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The retry loop the SageMaker and OpenAI-compatible clients share: bounded attempts with AWS full-jitter back-off
 * inside the caller's deadline, the server's `Retry-After` when longer, and the circuit breaker around the call.
 */
export function createCallRunner(options: ModelCallOptions & { readonly circuitOpenMessage: string }): CallRunner {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const maxAttempts = options.retry?.maxAttempts ?? 3;
  const baseDelayMs = options.retry?.baseDelayMs ?? 200;
  const maxDelayMs = options.retry?.maxDelayMs ?? 2_000;
  const breaker = createCircuitBreaker({ ...options.breaker, now });

  return {
    breaker,
    now,
    async run(deadline, attempt, mayRetry, classify) {
      if (!breaker.tryAcquire()) throw new ModelError(options.circuitOpenMessage, 'circuit_open');
      const callStarted = now();
      for (let attemptNo = 1; ; attemptNo++) {
        const started = now();
        const budget = deadline - started;
        try {
          if (budget <= 0) throw new ModelError('Model call deadline passed before the attempt', 'timeout');
          const value = await attempt(budget, started);
          breaker.onSuccess();
          return { value, attempts: attemptNo };
        } catch (err) {
          const { error, retryable, retryAfterMs, endpointAnswered } = classify(err);
          const backOff = fullJitterDelay(attemptNo - 1, baseDelayMs, maxDelayMs, random);
          // The server's own Retry-After wins over a shorter back-off; if it does not fit the deadline, give up now.
          const delay = Math.max(backOff, retryAfterMs ?? 0);
          const canRetry = retryable && attemptNo < maxAttempts && mayRetry() && now() + delay < deadline;
          if (!canRetry) {
            if (error.reason === 'client_error' || endpointAnswered) breaker.onSuccess();
            else breaker.onFailure(callStarted);
            throw error;
          }
          await sleep(delay);
        }
      }
    },
  };
}

/**
 * Aborts `controller` when `external` aborts (at once if it already has); returns the unlink to call when the attempt
 * ends. The attempt then fails as the client's own timer firing would: a `timeout`.
 */
export function linkAbort(controller: AbortController, external: AbortSignal | undefined): () => void {
  if (!external) return () => undefined;
  const abort = (): void => controller.abort();
  if (external.aborted) abort();
  else external.addEventListener('abort', abort, { once: true });
  return () => external.removeEventListener('abort', abort);
}
