import { ModelError } from '#core/errors';

/**
 * Maps whatever the SageMaker runtime SDK (or the network) threw to a `ModelError` reason, and says whether another
 * attempt could help. SageMaker names: `ThrottlingException`/`ModelNotReadyException` (429), `InternalFailure` (500),
 * `ServiceUnavailable` (503), `ModelError` (424, the container's own status in `OriginalStatusCode`),
 * `ValidationError` (400).
 */
export interface ClassifiedError {
  error: ModelError;
  retryable: boolean;
  /**
   * The endpoint answered, and its refusal says nothing about its health (a 4xx, or an inference component scaled to
   * zero): the circuit breaker counts it as a success, never towards opening. @default false
   */
  endpointAnswered?: boolean;
}

/**
 * SageMaker's answer to a call naming an inference component that has no copy (scaled to zero, or still waking):
 * `ValidationError`, HTTP 400, "Inference Component has no capacity to process this request. ApplicationAutoScaling
 * may be in-progress (if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig
 * API." The same call also counts in `NoCapacityInvocationFailures`, which wakes the component.
 */
const NO_CAPACITY = /inference component has no capacity/i;

/** True for SageMaker's refusal of a call to an inference component with no copy (see `NO_CAPACITY`). */
export function isNoCapacityRefusal(err: unknown): boolean {
  const shape = asShape(err);
  return shape.name === 'ValidationError' && typeof shape.message === 'string' && NO_CAPACITY.test(shape.message);
}

const THROTTLE_NAMES = new Set(['ThrottlingException', 'ModelNotReadyException', 'TooManyRequestsException']);
const SERVER_NAMES = new Set([
  'InternalFailure',
  'ServiceUnavailable',
  'InternalDependencyException',
  'ModelStreamError',
  'InternalStreamFailure',
]);
const TIMEOUT_NAMES = new Set(['AbortError', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  OriginalStatusCode?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const asShape = (err: unknown): SdkErrorShape => (typeof err === 'object' && err !== null ? err : {});

export function classifyModelError(err: unknown): ClassifiedError {
  if (err instanceof ModelError) return { error: err, retryable: false };
  const shape = asShape(err);
  const name = typeof shape.name === 'string' ? shape.name : '';
  const code = typeof shape.code === 'string' ? shape.code : '';
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  const detail = typeof shape.message === 'string' && shape.message !== '' ? shape.message : name || 'unknown error';
  const make = (reason: ModelError['reason'], retryable: boolean): ClassifiedError => ({
    error: new ModelError(`Model endpoint ${reason}: ${detail}`, reason, { cause: err }),
    retryable,
  });

  // Asleep by schedule, waking for minutes: hand the call to the fallback at once (`throttled` is in every fallback
  // policy), retry nothing (seconds later it is still waking), and keep the breaker closed, so every call still reaches
  // SageMaker (each refusal keeps the wake alarm up) and the first call after the wake is answered by the primary.
  if (isNoCapacityRefusal(err)) {
    return {
      error: new ModelError(`Model endpoint is scaled to zero and waking: ${detail}`, 'throttled', { cause: err }),
      retryable: false,
      endpointAnswered: true,
    };
  }
  if (TIMEOUT_NAMES.has(name) || code === 'ETIMEDOUT') return make('timeout', false);
  if (THROTTLE_NAMES.has(name) || status === 429) return make('throttled', true);
  if (name === 'ModelError') {
    const original = typeof shape.OriginalStatusCode === 'number' ? shape.OriginalStatusCode : 500;
    if (original === 429) return make('throttled', true);
    return original >= 500 ? make('server_error', true) : make('client_error', false);
  }
  if (SERVER_NAMES.has(name) || (status !== undefined && status >= 500)) return make('server_error', true);
  if (status !== undefined && status >= 400) return make('client_error', false);
  if (NETWORK_CODES.has(code)) return make('server_error', true);
  return make('server_error', false);
}

/** AWS "full jitter": a uniformly random delay in [0, min(cap, base·2^attempt)). `attempt` starts at 0. */
export function fullJitterDelay(attempt: number, baseMs: number, capMs: number, random: () => number): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
