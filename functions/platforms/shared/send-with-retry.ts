import { PlatformApiError } from '#core/errors';

/** One outbound HTTP call. Built afresh for every attempt, so a retry can carry a refreshed token. */
export interface OutboundRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH';
  readonly headers: Readonly<Record<string, string>>;
  /** Text (JSON, a form), raw bytes (a file upload) or a multipart form, whose boundary fetch sets. */
  readonly body?: string | Uint8Array | FormData;
}

/** The upstream's answer, body read as text. */
export interface OutboundResponse {
  readonly status: number;
  /** fetch's `Response.type`; `opaqueredirect` is a redirect that `redirect: 'manual'` did not follow. */
  readonly type?: string;
  readonly headers: Headers;
  readonly body: string;
}

export interface RetryPolicy {
  /** Total attempts including the first. @default 4 */
  readonly maxAttempts: number;
  /** First backoff ceiling; doubles per attempt ("full jitter": the wait is uniform in [0, ceiling]). @default 200 */
  readonly baseDelayMs: number;
  /** Largest backoff ceiling. @default 5000 */
  readonly maxDelayMs: number;
  /** Largest `Retry-After` honoured; a longer one is cut to this so a worker never sleeps past its timeout. @default 30000 */
  readonly maxRetryAfterMs: number;
  /** Per-attempt timeout. @default 10000 */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  maxRetryAfterMs: 30_000,
  timeoutMs: 10_000,
};

export interface SendDeps {
  readonly fetch: typeof fetch;
  readonly sleep: (ms: number) => Promise<void>;
  /** Epoch ms; used to turn an HTTP-date `Retry-After` into a delay. */
  readonly now: () => number;
  /** Uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
}

export interface SendOptions {
  readonly policy?: Partial<RetryPolicy>;
  /**
   * Extra "throttled" signal for platforms that signal rate limits in the body (Slack HTTP 200 `ratelimited`,
   * Feishu code 99991400). Returning true retries the call like a 429 (honouring `Retry-After` if present).
   */
  readonly isThrottled?: (response: OutboundResponse) => boolean;
}

/**
 * Sends one request, retrying 429 and 5xx (and network failures) with `Retry-After` or exponential backoff with
 * jitter, up to `maxAttempts`. Never retries other 4xx: they are the caller's mistake and would fail again.
 * Only use for calls that are safe to repeat (the platform dedupes, or a duplicate is preferable to a lost reply).
 * Redirects are never followed (`redirect: 'manual'`): the URL was checked against an allowlist (or is the
 * configured API base), and a 3xx could point anywhere, e.g. at an internal address. A 3xx is a final failure.
 * @returns the first 2xx response that is not throttled.
 * @throws PlatformApiError(status, body) when the upstream refuses or attempts run out (status 0: no response).
 */
export async function sendWithRetry(
  build: () => OutboundRequest | Promise<OutboundRequest>,
  deps: SendDeps,
  options: SendOptions = {},
): Promise<OutboundResponse> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const random = deps.random ?? Math.random;
  let last: OutboundResponse | undefined;
  let lastError: unknown;

  for (let attempt = 1; attempt <= policy.maxAttempts; attempt++) {
    const request = await build();
    let response: OutboundResponse;
    try {
      response = await attemptOnce(request, deps.fetch, policy.timeoutMs);
    } catch (cause) {
      lastError = cause;
      last = undefined;
      if (attempt < policy.maxAttempts) {
        await deps.sleep(backoffMs(attempt, policy, random));
      }
      continue;
    }
    last = response;
    const throttled = response.status === 429 || options.isThrottled?.(response) === true;
    if (isSuccess(response) && !throttled) {
      return response;
    }
    if (isRedirect(response)) {
      throw new PlatformApiError(
        `${describe(request)} answered ${response.status} redirecting to ${locationOrigin(response, request)}; redirects are not followed`,
        response.status,
        response.body,
      );
    }
    if (!throttled && response.status < 500) {
      throw new PlatformApiError(`${describe(request)} answered ${response.status}`, response.status, response.body);
    }
    if (attempt < policy.maxAttempts) {
      const retryAfter = retryAfterMs(response.headers.get('retry-after'), deps.now(), policy.maxRetryAfterMs);
      await deps.sleep(retryAfter ?? backoffMs(attempt, policy, random));
    }
  }

  if (last) {
    throw new PlatformApiError(
      `Gave up after ${policy.maxAttempts} attempts; last status ${last.status}`,
      last.status,
      last.body,
    );
  }
  throw new PlatformApiError(`Gave up after ${policy.maxAttempts} attempts; no response`, 0, '', {
    cause: lastError,
  });
}

async function attemptOnce(request: OutboundRequest, fetchFn: typeof fetch, timeoutMs: number) {
  const response = await fetchFn(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  return {
    status: response.status,
    type: response.type,
    headers: response.headers,
    body: await response.text(),
  };
}

function isSuccess(response: OutboundResponse): boolean {
  return response.status >= 200 && response.status < 300;
}

/**
 * 3xx, and the `opaqueredirect` a WHATWG fetch returns for `redirect: 'manual'` (status 0). Node's fetch returns
 * the real 3xx; an injected fetch may do either.
 */
function isRedirect(response: OutboundResponse): boolean {
  return (response.status >= 300 && response.status < 400) || response.type === 'opaqueredirect';
}

/** Where the redirect pointed, origin only (a path or query may carry tokens). */
function locationOrigin(response: OutboundResponse, request: OutboundRequest): string {
  const location = response.headers.get('location');
  if (location === null) return '(no Location)';
  try {
    return new URL(location, request.url).origin;
  } catch {
    return '(unparseable Location)';
  }
}

function describe(request: OutboundRequest): string {
  const url = new URL(request.url);
  return `${request.method} ${url.origin}${url.pathname}`;
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^(attempt-1))]. */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Parses `Retry-After` (delta-seconds or an HTTP date) into a delay in ms, capped at `capMs`.
 * @returns undefined when the header is absent or unparseable (the caller falls back to backoff).
 */
export function retryAfterMs(value: string | null, nowMs: number, capMs: number): number | undefined {
  if (value === null) {
    return undefined;
  }
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    return Math.min(Number(trimmed) * 1000, capMs);
  }
  // HTTP dates always name a weekday or month; this keeps V8's lenient Date.parse from reading "-1" as a year.
  const date = /[a-z]/i.test(trimmed) ? Date.parse(trimmed) : Number.NaN;
  if (Number.isNaN(date)) {
    return undefined;
  }
  return Math.min(Math.max(0, date - nowMs), capMs);
}
