/** Origins a platform-supplied reply URL (DingTalk `sessionWebhook`, WeCom `response_url`) may point at. */
export interface ReplyUrlAllowlist {
  /** Exact https origins, e.g. `https://oapi.dingtalk.com`. */
  readonly origins: readonly string[];
  /** Exact http origins accepted only because they were listed explicitly (the sandbox's emulator). */
  readonly insecureOrigins?: readonly string[];
}

/**
 * Whether a reply URL taken from an inbound event may be called. The event is signed, but the URL is still data:
 * calling an arbitrary one would let a forged or buggy event turn the worker into an SSRF proxy.
 * Rules: parseable absolute URL; no userinfo (`https://good@evil`); https whose origin exactly equals an allowed
 * origin (after URL normalisation: default port, case, IDNA); http only when its origin is in `insecureOrigins`.
 */
export function isAllowedReplyUrl(url: string, allowlist: ReplyUrlAllowlist): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return false;
  }
  if (parsed.protocol === 'https:') {
    return normaliseOrigins(allowlist.origins).has(parsed.origin);
  }
  if (parsed.protocol === 'http:') {
    return normaliseOrigins(allowlist.insecureOrigins ?? []).has(parsed.origin);
  }
  return false;
}

function normaliseOrigins(origins: readonly string[]): Set<string> {
  const result = new Set<string>();
  for (const origin of origins) {
    try {
      result.add(new URL(origin).origin);
    } catch {
      // An unparseable allowlist entry allows nothing; config validation reports it.
    }
  }
  return result;
}
