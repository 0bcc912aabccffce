import { ENV } from '../config/env-names';
import { loadCredentials } from './credentials';
import { createDingTalkPlatform } from './dingtalk';
import { createFeishuPlatform } from './feishu';
import type { ReplyUrlAllowlist } from './shared';
import { createSlackPlatform } from './slack';
import type { AdapterDeps, ChatPlatform, PlatformName } from './types';
import { createWeComPlatform } from './wecom';

type Env = Readonly<Record<string, string | undefined>>;

export interface RegistryOptions {
  /** Extra origins reply handles may use (the sandbox's emulator); http origins are accepted only from here. */
  readonly replyHandleOrigins?: readonly string[];
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

async function createPlatform(
  name: PlatformName,
  env: Env,
  options: RegistryOptions,
  deps: AdapterDeps,
): Promise<ChatPlatform> {
  switch (name) {
    case 'feishu': {
      const c = await loadCredentials('feishu', env);
      return createFeishuPlatform({ ...c, ...baseUrl(env[ENV.feishuApiBaseUrl]) }, deps);
    }
    case 'slack': {
      const c = await loadCredentials('slack', env);
      return createSlackPlatform({ ...c, ...baseUrl(env[ENV.slackApiBaseUrl]) }, deps);
    }
    case 'dingtalk': {
      const c = await loadCredentials('dingtalk', env);
      return createDingTalkPlatform(
        { ...c, ...baseUrl(env[ENV.dingtalkApiBaseUrl]), replyUrls: allowlist(['https://oapi.dingtalk.com'], options) },
        deps,
      );
    }
    case 'wecom': {
      const c = await loadCredentials('wecom', env);
      return createWeComPlatform({ ...c, replyUrls: allowlist(['https://qyapi.weixin.qq.com'], options) }, deps);
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
