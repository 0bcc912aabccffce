import { ENV } from '#config/env-names';
import { apiBaseUrlFrom, type PlatformDescriptor, replyUrlAllowlist } from '#platforms/descriptor';
import { withOneShotReplies } from '#platforms/shared/reply-session';
import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { DINGTALK_SESSION_WEBHOOK_ORIGIN, type DingTalkConfig, resolveDingTalkConfig } from './config';
import type { dingtalkCredentials } from './credentials';
import { dingtalkManifest } from './manifest';
import { parseDingTalkRequest } from './parse';
import type { dingtalkReplyHandleSchema } from './reply-handle';
import { createDingTalkSender } from './send';

export {
  type DingTalkCallbackKeys,
  type DingTalkEncryptedCallback,
  type DingTalkEncryptedResponse,
  decryptDingTalkCallback,
  encryptDingTalkResponse,
} from './callback-crypto';
export { DINGTALK_API_BASE_URL, DINGTALK_SESSION_WEBHOOK_ORIGIN, type DingTalkConfig } from './config';
export { computeRobotSign, verifyRobotSign } from './robot-sign';
export { DINGTALK_PART_LIMIT_CHARS } from './send';

/**
 * The DingTalk enterprise-internal robot adapter (HTTP callback mode): signed robot callbacks, optional encrypted
 * event-subscription handshake, replies via sessionWebhook or the robot group-message API.
 * @throws ConfigError at creation listing every unusable setting.
 */
export function createDingTalkPlatform(config: DingTalkConfig, deps: AdapterDeps): ChatPlatform {
  const resolved = resolveDingTalkConfig(config);
  const sender = createDingTalkSender(resolved, deps);
  return withOneShotReplies({
    name: 'dingtalk',
    parse: (request, now) => parseDingTalkRequest(request, resolved, now),
    send: (reply) => sender.send(reply),
  });
}

export const dingtalkPlatform: PlatformDescriptor<
  'dingtalk',
  typeof dingtalkReplyHandleSchema,
  typeof dingtalkCredentials.schema
> = {
  ...dingtalkManifest,
  create: ({ credentials, env, replyLimits, replyHandleOrigins, deps }) =>
    createDingTalkPlatform(
      {
        ...credentials,
        ...apiBaseUrlFrom(env[ENV.dingtalkApiBaseUrl]),
        replyUrls: replyUrlAllowlist([DINGTALK_SESSION_WEBHOOK_ORIGIN], replyHandleOrigins),
        replyLimits,
      },
      deps,
    ),
};
