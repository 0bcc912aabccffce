import { ModelError } from '#core/errors';
import { linkAbort } from './call-runner';
import type { ModelClient } from './model-client';

/**
 * Compositions of model clients. `withFallback` is the seam for a second backend (e.g. a CPU or OpenAI-compatible
 * model) behind the SageMaker endpoint: callers see one `ModelClient`, and each result names the model that answered
 * (`modelId`, `billing`), so the FAQ cache and the ledger follow the answering model, not the configured one.
 */

export interface FallbackPolicy {
  /** The primary's failures that hand the call to the fallback. Anything else is thrown as is. */
  readonly fallBackOn: ReadonlySet<ModelError['reason']>;
  /**
   * Time kept back for the fallback: the primary must finish `reserveMs` before the caller's deadline, so a primary
   * timeout still leaves the fallback room to answer. A function gets the time the caller has left and returns the
   * reserve for this call (a worker's deadline follows its invocation's remaining time). @default 0
   */
  readonly reserveMs?: number | ((remainingMs: number) => number);
}

/**
 * Fall back when the primary cannot serve (circuit open, throttled, failing on its side), never on a request it
 * rejected (`client_error`: the same request would be wrong for any model) nor on a malformed response
 * (`bad_response`: a defect to surface, not load to shed). Not on `timeout` by default: a primary that used the
 * whole deadline leaves the fallback none, so a policy adds `timeout` together with a `reserveMs` that fits the
 * fallback's own answer time.
 */
export const DEFAULT_FALLBACK_POLICY: FallbackPolicy = {
  fallBackOn: new Set(['circuit_open', 'throttled', 'server_error']),
};

/**
 * A client that asks `primary` and, when it fails with a `ModelError` the policy names, asks `fallback` with the
 * same request and the caller's whole deadline (unless it has passed). When the fallback fails with a `ModelError` too, the primary's error
 * is thrown: it is the failure operators alarm on. A stream that already delivered a delta is never retried on the fallback (the
 * member has seen part of an answer). The composition reports the primary's `id`, `billing` and circuit state.
 */
export function withFallback(
  primary: ModelClient,
  fallback: ModelClient,
  policy: FallbackPolicy,
  now: () => number = Date.now,
): ModelClient {
  const { reserveMs = 0 } = policy;
  const reserveFor = (deadline: number): number =>
    typeof reserveMs === 'number' ? reserveMs : reserveMs(Math.max(0, deadline - now()));

  /** `handOverAt`: when the primary must have answered (whole calls) or shown its first words (streams). */
  async function firstThatAnswers<T>(
    deadline: number,
    askPrimary: (handOverAt: number) => Promise<T>,
    askFallback: () => Promise<T>,
    mayFallBack: () => boolean = () => true,
  ): Promise<T> {
    try {
      return await askPrimary(deadline - reserveFor(deadline));
    } catch (err) {
      if (!(err instanceof ModelError && policy.fallBackOn.has(err.reason) && mayFallBack())) throw err;
      // No time left: asking would only fail the call and count against the fallback's own circuit breaker.
      if (deadline <= now()) throw err;
      try {
        return await askFallback();
      } catch (fallbackErr) {
        // A non-model error from the fallback is a defect and surfaces as itself.
        throw fallbackErr instanceof ModelError ? err : fallbackErr;
      }
    }
  }

  return {
    id: primary.id,
    billing: primary.billing,
    circuitState: () => primary.circuitState(),
    invoke: (request, options) =>
      firstThatAnswers(
        options.deadline,
        (handOverAt) => primary.invoke(request, { ...options, deadline: handOverAt }),
        () => fallback.invoke(request, options),
      ),
    invokeStream: (request, options) => {
      let delivered = false;
      const onDelta = (text: string): void => {
        delivered = true;
        options.onDelta?.(text);
      };
      // The reserve bounds the wait for the primary's first words, not its whole answer: once a member sees text,
      // the fallback can no longer take over, so the stream keeps the caller's whole deadline.
      const streamPrimary = async (handOverAt: number) => {
        const stop = new AbortController();
        const unlink = linkAbort(stop, options.signal);
        const timer = setTimeout(() => delivered || stop.abort(), Math.max(0, handOverAt - now()));
        try {
          return await primary.invokeStream(request, { deadline: options.deadline, onDelta, signal: stop.signal });
        } finally {
          clearTimeout(timer);
          unlink();
        }
      };
      return firstThatAnswers(
        options.deadline,
        streamPrimary,
        () => fallback.invokeStream(request, { ...options, onDelta }),
        () => !delivered,
      );
    },
  };
}
