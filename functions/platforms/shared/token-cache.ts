/** A fetched access token and when the platform says it expires. */
export interface AccessToken {
  readonly value: string;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export interface TokenCacheOptions {
  /** Fetches a new token (e.g. Feishu `tenant_access_token`); its errors propagate to every waiting caller. */
  readonly fetchToken: () => Promise<AccessToken>;
  /** Epoch ms. */
  readonly now: () => number;
  /** Refresh this long before `expiresAt`, so a token never expires between `get()` and its use. @default 300000 */
  readonly refreshMarginMs?: number;
}

export interface TokenCache {
  /** A valid token: the cached one, or a fresh one from a single shared fetch when concurrent callers miss. */
  get(): Promise<string>;
  /**
   * Drops the cached token after the platform rejected it. Pass the rejected value: when another caller has
   * already replaced it, the newer token is kept (so N callers hitting one expiry fetch once, not N times).
   */
  invalidate(rejected?: string): void;
}

export function createTokenCache(options: TokenCacheOptions): TokenCache {
  const margin = options.refreshMarginMs ?? 300_000;
  let cached: AccessToken | undefined;
  let inFlight: Promise<AccessToken> | undefined;

  const refresh = (): Promise<AccessToken> => {
    inFlight ??= options
      .fetchToken()
      .then((token) => {
        cached = token;
        return token;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  return {
    async get() {
      if (cached && options.now() < cached.expiresAt - margin) {
        return cached.value;
      }
      return (await refresh()).value;
    },
    invalidate(rejected) {
      if (rejected === undefined || cached?.value === rejected) {
        cached = undefined;
      }
    },
  };
}

/**
 * One call with the cached token, and one more with a fresh token when the platform's answer says it refused the
 * first (an expired or revoked token answers an error code, not an HTTP status, on DingTalk and WeCom).
 */
export async function withTokenRetry<T>(
  tokens: TokenCache,
  call: (token: string) => Promise<T>,
  tokenRefused: (answer: T) => boolean,
): Promise<T> {
  const token = await tokens.get();
  const answer = await call(token);
  if (!tokenRefused(answer)) return answer;
  tokens.invalidate(token);
  return call(await tokens.get());
}
