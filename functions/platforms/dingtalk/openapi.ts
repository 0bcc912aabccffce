import { PlatformApiError } from '#core/errors';
import {
  createTokenCache,
  type OutboundResponse,
  type RetryPolicy,
  type SendDeps,
  sendWithRetry,
  type TokenCache,
} from '#platforms/shared/index';
import type { AdapterDeps } from '#platforms/types';
import * as z from '#shared/zod';
import type { ResolvedDingTalkConfig } from './config';

/**
 * DingTalk's new-style OpenAPI (`api.dingtalk.com/v1.0/...`): JSON bodies, the `x-acs-dingtalk-access-token` header,
 * errors as a non-2xx status with `{"code","message","requestid"}`.
 */
export interface DingTalkOpenApi {
  /**
   * One call with the cached access token; a rejected token is dropped and the call made once more with a fresh one.
   * 429, 5xx and `403 ...QpsLimit...` are retried (`sendWithRetry`), so only use it for calls that are safe to
   * repeat. The body is serialised once: every attempt carries the same bytes (the same streaming `guid`).
   * @throws PlatformApiError with the final status and body.
   */
  call(method: 'POST' | 'PUT', path: string, body: object, policy?: Partial<RetryPolicy>): Promise<OutboundResponse>;
}

/** The token every OpenAPI call of one adapter shares (one fetch per expiry, however many sessions run). */
export function createDingTalkTokenCache(config: ResolvedDingTalkConfig, deps: AdapterDeps): TokenCache {
  const sendDeps: SendDeps = { ...deps, fetch: throttleAwareFetch(deps.fetch) };
  return createTokenCache({ fetchToken: () => fetchAccessToken(config, sendDeps), now: deps.now });
}

/** An OpenAPI client over `deps.fetch` (a reply session passes its counting fetch) and the adapter's token cache. */
export function createDingTalkOpenApi(
  config: ResolvedDingTalkConfig,
  deps: AdapterDeps,
  tokens: TokenCache,
): DingTalkOpenApi {
  const sendDeps: SendDeps = { ...deps, fetch: throttleAwareFetch(deps.fetch) };
  return {
    async call(method, path, body, policy) {
      const payload = JSON.stringify(body);
      const attempt = (token: string): Promise<OutboundResponse> =>
        sendWithRetry(
          () => ({
            url: `${config.apiBaseUrl}${path}`,
            method,
            headers: { 'content-type': 'application/json', 'x-acs-dingtalk-access-token': token },
            body: payload,
          }),
          sendDeps,
          policy ? { policy } : {},
        );
      const token = await tokens.get();
      try {
        return await attempt(token);
      } catch (err) {
        if (!isRejectedToken(err)) throw err;
        tokens.invalidate(token);
        return attempt(await tokens.get());
      }
    },
  };
}

const openApiErrorSchema = z.object({ code: z.string(), message: z.optional(z.string()) });

/** The `code` of an OpenAPI error answer (`param.templateUnpublished`, `InvalidAuthentication`, ...), if any. */
export function openApiErrorCode(err: unknown): string | undefined {
  if (!(err instanceof PlatformApiError)) return undefined;
  const parsed = openApiErrorSchema.safeParse(parseJson(err.body));
  return parsed.success ? parsed.data.code : undefined;
}

const accessTokenSchema = z.object({
  accessToken: z.string().check(z.minLength(1)),
  expireIn: z.number().check(z.positive()),
});

async function fetchAccessToken(config: ResolvedDingTalkConfig, deps: SendDeps) {
  const response = await sendWithRetry(
    () => ({
      url: `${config.apiBaseUrl}/v1.0/oauth2/accessToken`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ appKey: config.appKey, appSecret: config.appSecret }),
    }),
    deps,
  );
  const parsed = accessTokenSchema.safeParse(parseJson(response.body));
  if (!parsed.success) {
    throw new PlatformApiError('DingTalk accessToken answered without accessToken/expireIn', response.status, '');
  }
  return { value: parsed.data.accessToken, expiresAt: deps.now() + parsed.data.expireIn * 1000 };
}

/** 401, or the `InvalidAuthentication` code DingTalk uses for an expired or revoked access token. */
export function isRejectedToken(err: unknown): boolean {
  return err instanceof PlatformApiError && (err.status === 401 || openApiErrorCode(err) === 'InvalidAuthentication');
}

/**
 * The new-style API answers QPS throttling with HTTP 403 and a `...QpsLimit...` code; presenting it as 429 lets
 * `sendWithRetry` back off and retry it like any other throttle. The limits are per second, so without a
 * `Retry-After` of its own the answer waits one second: jittered backoff could retry inside the same window.
 */
export function throttleAwareFetch(fetchFn: typeof fetch): typeof fetch {
  return async (input, init) => {
    const response = await fetchFn(input, init);
    if (response.status !== 403) return response;
    const text = await response.text();
    if (!text.includes('QpsLimit')) return new Response(text, { status: 403, headers: response.headers });
    const headers = new Headers(response.headers);
    if (!headers.has('retry-after')) headers.set('retry-after', '1');
    return new Response(text, { status: 429, headers });
  };
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
