/**
 * The one error hierarchy of GroupGate. Every error has a stable `code` (logged and returned to callers) and an
 * HTTP status; `expose` says whether the message may be shown to the caller (only client mistakes, < 500).
 * Mapping to HTTP happens in one place: `toHttpError`.
 */
export abstract class GroupGateError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  get expose(): boolean {
    return this.httpStatus < 500;
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A signature, token or credential did not verify. Never include secrets in the message. */
export class SignatureError extends GroupGateError {
  readonly code = 'invalid_signature';
  readonly httpStatus = 401;
}

/** The request is outside the allowed timestamp window (stale or from the future). */
export class ReplayError extends GroupGateError {
  readonly code = 'stale_request';
  readonly httpStatus = 401;
}

/** The request could not be decoded or lacks required fields. */
export class MalformedEventError extends GroupGateError {
  readonly code = 'malformed_event';
  readonly httpStatus = 400;
}

/** The body is over the configured limit. */
export class PayloadTooLargeError extends GroupGateError {
  readonly code = 'payload_too_large';
  readonly httpStatus = 413;
}

/** No such route or the platform is not enabled. */
export class NotFoundError extends GroupGateError {
  readonly code = 'not_found';
  readonly httpStatus = 404;
}

/** A request field failed validation (REST API). */
export class ValidationError extends GroupGateError {
  readonly code = 'invalid_request';
  readonly httpStatus = 400;
}

/** Missing or invalid end-user credential (JWT). */
export class UnauthorizedError extends GroupGateError {
  readonly code = 'unauthorized';
  readonly httpStatus = 401;
}

/** Missing or invalid API key. */
export class ForbiddenError extends GroupGateError {
  readonly code = 'forbidden';
  readonly httpStatus = 403;
}

/** The caller is over its throttle or quota. */
export class TooManyRequestsError extends GroupGateError {
  readonly code = 'too_many_requests';
  readonly httpStatus = 429;
}

/** A chat platform's API answered with an error; `status` and `body` are the upstream's. */
export class PlatformApiError extends GroupGateError {
  readonly code = 'platform_api_error';
  readonly httpStatus = 502;
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The model endpoint failed, timed out, or the circuit breaker is open. */
export class ModelError extends GroupGateError {
  readonly code: string;
  readonly httpStatus: number;
  constructor(
    message: string,
    readonly reason: 'timeout' | 'throttled' | 'server_error' | 'client_error' | 'circuit_open' | 'bad_response',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = `model_${reason}`;
    this.httpStatus = reason === 'timeout' ? 504 : 502;
  }
}

/** Configuration is invalid; lists every problem at once with the key name. */
export class ConfigError extends GroupGateError {
  readonly code = 'invalid_config';
  readonly httpStatus = 500;
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface HttpErrorBody {
  error: { code: string; message: string };
}

/** Maps any thrown value to an HTTP status and a JSON body. Unexpected faults become 500 without details. */
export function toHttpError(err: unknown): { statusCode: number; body: HttpErrorBody } {
  if (err instanceof GroupGateError) {
    const statusCode = err.httpStatus;
    const message = err.expose ? err.message : 'Internal error; see logs for details.';
    return { statusCode, body: { error: { code: err.code, message } } };
  }
  return {
    statusCode: 500,
    body: { error: { code: 'internal_error', message: 'Internal error; see logs for details.' } },
  };
}
