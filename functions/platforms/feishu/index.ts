import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor } from '#platforms/descriptor';
import { withOneShotReplies } from '#platforms/shared/reply-session';
import { resolveReplyLimits } from '#platforms/shared/reply-text';
import { createTokenCache } from '#platforms/shared/token-cache';
import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { FEISHU_DEFAULT_API_BASE_URL, type FeishuConfig } from './config';
import type { feishuCredentials } from './credentials';
import { feishuManifest } from './manifest';
import { parseFeishuRequest } from './parse';
import type { feishuReplyHandleSchema } from './reply-handle';
import { fetchTenantAccessToken, sendFeishuReply } from './send';

export type { FeishuConfig } from './config';

/**
 * The Feishu/Lark adapter. One instance per cold start: it holds the `tenant_access_token` cache (valid 2 h;
 * refreshed 5 min before expiry, or at once when Feishu rejects it).
 */
export function createFeishuPlatform(config: FeishuConfig, deps: AdapterDeps): ChatPlatform {
  const apiBaseUrl = (config.apiBaseUrl ?? FEISHU_DEFAULT_API_BASE_URL).replace(/\/+$/, '');
  const limits = resolveReplyLimits(config.replyLimits);
  const tokens = createTokenCache({
    now: deps.now,
    fetchToken: () => fetchTenantAccessToken(apiBaseUrl, config.appId, config.appSecret, deps),
  });
  return withOneShotReplies({
    name: 'feishu',
    // Every reply part carries a uuid derived from the idempotency key; Feishu drops repeats within 1 h.
    idempotentSend: true,
    parse: (request, now) => parseFeishuRequest(config, request, now),
    send: async (reply) => {
      if (reply.handle.platform !== 'feishu') {
        throw new TypeError(`Feishu adapter cannot send to a ${reply.handle.platform} handle`);
      }
      return sendFeishuReply(apiBaseUrl, reply, reply.handle, tokens, deps, limits);
    },
  });
}

export const feishuPlatform: PlatformDescriptor<
  'feishu',
  typeof feishuReplyHandleSchema,
  typeof feishuCredentials.schema
> = {
  ...feishuManifest,
  create: ({ credentials, env, replyLimits, deps }) =>
    createFeishuPlatform({ ...credentials, ...apiBaseUrlFrom(env[ENV.feishuApiBaseUrl]), replyLimits }, deps),
};
