/**
 * A small circuit breaker for the model endpoint. Closed: calls pass; `failureThreshold` consecutive failures within
 * `windowMs` open it. Open: calls are refused until `coolDownMs` has passed, then it is half-open and lets exactly one
 * probe through; the probe's success closes it, its failure opens it again. Time comes from the injected clock.
 *
 * "Consecutive" is by when calls *started*, not when they ended: a failure of a call that started before the latest
 * success does not count. Calls run side by side (a worker answers a batch's members concurrently), and calls that
 * hang all fail together at their deadline, after the quick successes of calls started with them; counted by
 * completion, such a burst looked like N failures in a row and opened the circuit on an endpoint that answers most
 * calls. A dead endpoint has no successes, so every failure still counts.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** @default 5 */
  failureThreshold?: number;
  /** Failures older than this no longer count towards opening. @default 60_000 */
  windowMs?: number;
  /** How long the circuit stays open before one probe is allowed. @default 30_000 */
  coolDownMs?: number;
}

export interface CircuitBreaker {
  /** True if a call may proceed now (in half-open, true once until that probe reports back). */
  tryAcquire(): boolean;
  onSuccess(): void;
  /** @param startedAt when the failed call started (epoch ms of the injected clock); now when omitted. */
  onFailure(startedAt?: number): void;
  state(): CircuitState;
}

export function createCircuitBreaker(options: CircuitBreakerOptions & { now: () => number }): CircuitBreaker {
  const threshold = options.failureThreshold ?? 5;
  const windowMs = options.windowMs ?? 60_000;
  const coolDownMs = options.coolDownMs ?? 30_000;
  const { now } = options;
  let failures: number[] = [];
  let openedAt: number | undefined;
  let lastSuccessAt = Number.NEGATIVE_INFINITY;
  let probeInFlight = false;

  const state = (): CircuitState => {
    if (openedAt === undefined) return 'closed';
    return now() - openedAt >= coolDownMs ? 'half_open' : 'open';
  };

  return {
    state,
    tryAcquire() {
      const current = state();
      if (current === 'closed') return true;
      if (current === 'open' || probeInFlight) return false;
      probeInFlight = true;
      return true;
    },
    onSuccess() {
      lastSuccessAt = now();
      failures = [];
      openedAt = undefined;
      probeInFlight = false;
    },
    onFailure(startedAt) {
      const t = now();
      if (openedAt !== undefined) {
        openedAt = t;
        probeInFlight = false;
        return;
      }
      // Started before the latest success: the endpoint answered since, so this is no evidence that it is down.
      if ((startedAt ?? t) < lastSuccessAt) return;
      failures = [...failures.filter((at) => t - at < windowMs), t];
      if (failures.length >= threshold) {
        openedAt = t;
        failures = [];
      }
    },
  };
}
