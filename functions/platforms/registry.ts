import { ENV } from '#config/env-names';
import { loadCredentials } from './credentials';
import { createDingTalkPlatform } from './dingtalk/index';
import { createFeishuPlatform } from './feishu/index';
import type { ReplyLimits, ReplyUrlAllowlist } from './shared/index';
import { createSlackPlatform } from './slack/index';
import type { AdapterDeps, ChatPlatform, PlatformName } from './types';
import { createWeComPlatform } from './wecom/index';

type Env = Readonly<Record<string, string | undefined>>;

export interface RegistryOptions {
  /** Extra origins reply handles may use (the sandbox's emulator); http origins are accepted only from here. */
  readonly replyHandleOrigins?: readonly string[];
  /** Bounds on one outbound answer, for every adapter; unset fields take `DEFAULT_REPLY_LIMITS`. */
  readonly replyLimits?: Partial<ReplyLimits>;
  readonly deps?: Partial<AdapterDeps>;
}

const defaultDeps: AdapterDeps = {
  fetch: (input, init) => fetch(input, init),
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Builds one adapter per enabled platform, with credentials loaded once (Secrets Manager or env). */
export async function createEnabledPlatforms(
  enabled: readonly PlatformName[],
  env: Env,
  options: RegistryOptions = {},
): Promise<Partial<Record<PlatformName, ChatPlatform>>> {
  const deps = { ...defaultDeps, ...options.deps };
  const entries = await Promise.all(
    enabled.map(async (name) => [name, await createPlatform(name, env, options, deps)] as const),
  );
  return Object.fromEntries(entries);
}

export type PlatformResolver = (name: string) => Promise<ChatPlatform | undefined>;

/**
 * Resolves one platform's adapter on first use and rebuilds it after `ttlMs`, so
 * - one platform's missing or malformed secret fails only that platform's webhook (not every platform's), and
 * - a rotated secret is picked up within `ttlMs` without a deploy (Powertools Parameters caches for the same time).
 * A failed build is not cached: the next request tries again.
 */
export function createPlatformResolver(
  enabled: readonly PlatformName[],
  env: Env,
  options: RegistryOptions & { readonly ttlMs?: number; readonly now?: () => number } = {},
): PlatformResolver {
  const deps = { ...defaultDeps, ...options.deps };
  const ttlMs = options.ttlMs ?? 300_000;
  const now = options.now ?? Date.now;
  const cache = new Map<PlatformName, { readonly adapter: Promise<ChatPlatform>; readonly expiresAt: number }>();
  return async (name) => {
    const platform = enabled.find((p) => p === name);
    if (!platform) return undefined;
    const hit = cache.get(platform);
    if (hit && hit.expiresAt > now()) return hit.adapter;
    const adapter = createPlatform(platform, env, options, deps);
    cache.set(platform, { adapter, expiresAt: now() + ttlMs });
    adapter.catch(() => cache.delete(platform));
    return adapter;
  };
}

async function createPlatform(
  name: PlatformName,
  env: Env,
  options: RegistryOptions,
  deps: AdapterDeps,
): Promise<ChatPlatform> {
  const replyLimits = options.replyLimits ?? {};
  switch (name) {
    case 'feishu': {
      const c = await loadCredentials('feishu', env);
      return createFeishuPlatform({ ...c, ...baseUrl(env[ENV.feishuApiBaseUrl]), replyLimits }, deps);
    }
    case 'slack': {
      const c = await loadCredentials('slack', env);
      return createSlackPlatform({ ...c, ...baseUrl(env[ENV.slackApiBaseUrl]), replyLimits }, deps);
    }
    case 'dingtalk': {
      const c = await loadCredentials('dingtalk', env);
      return createDingTalkPlatform(
        {
          ...c,
          ...baseUrl(env[ENV.dingtalkApiBaseUrl]),
          replyUrls: allowlist(['https://oapi.dingtalk.com'], options),
          replyLimits,
        },
        deps,
      );
    }
    case 'wecom': {
      const c = await loadCredentials('wecom', env);
      return createWeComPlatform(
        { ...c, replyUrls: allowlist(['https://qyapi.weixin.qq.com'], options), replyLimits },
        deps,
      );
    }
  }
}

function baseUrl(value: string | undefined): { apiBaseUrl?: string } {
  return value ? { apiBaseUrl: value } : {};
}

function allowlist(platformOrigins: readonly string[], options: RegistryOptions): ReplyUrlAllowlist {
  const extra = options.replyHandleOrigins ?? [];
  return {
    origins: [...platformOrigins, ...extra.filter((o) => o.startsWith('https://'))],
    insecureOrigins: extra.filter((o) => o.startsWith('http://')),
  };
}
