import { loadCredentials } from './credentials';
import type { PlatformDescriptor } from './descriptor';
import { dingtalkPlatform } from './dingtalk/index';
import { feishuPlatform } from './feishu/index';
import type { ReplyLimits } from './shared/index';
import { slackPlatform } from './slack/index';
import type { AdapterDeps, ChatPlatform, PlatformName } from './types';
import { wecomPlatform } from './wecom/index';

/**
 * Every chat platform, one line each. A platform is described entirely by its own folder's descriptor (reply-handle
 * schema, duplicate-ack rule, credentials, factory); nothing here or in the core switches on a platform's name.
 */
export const PLATFORM_DESCRIPTORS = {
  feishu: feishuPlatform,
  slack: slackPlatform,
  dingtalk: dingtalkPlatform,
  wecom: wecomPlatform,
} as const satisfies { readonly [P in PlatformName]: PlatformDescriptor<P> };

type Env = Readonly<Record<string, string | undefined>>;

export interface RegistryOptions {
  /** Extra origins reply handles may use (the sandbox's emulator); http origins are accepted only from here. */
  readonly replyHandleOrigins?: readonly string[];
  /** Bounds on one outbound answer, for every adapter; unset fields take `DEFAULT_REPLY_LIMITS`. */
  readonly replyLimits?: Partial<ReplyLimits>;
  readonly deps?: Partial<AdapterDeps>;
  /** Reads a Secrets Manager secret as JSON; Powertools Parameters unless given (`loadCredentials`). */
  readonly fetchSecret?: (id: string) => Promise<unknown>;
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
  const descriptor: PlatformDescriptor<PlatformName> = PLATFORM_DESCRIPTORS[name];
  const credentials = await loadCredentials(descriptor.credentials, env, options.fetchSecret);
  return descriptor.create({
    credentials,
    env,
    replyLimits: options.replyLimits ?? {},
    replyHandleOrigins: options.replyHandleOrigins ?? [],
    deps,
  });
}
