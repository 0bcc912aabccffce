import { type PlatformDescriptor, replyUrlAllowlist } from '#platforms/descriptor';
import { withOneShotReplies } from '#platforms/shared/reply-session';
import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { resolveWeComConfig, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
import type { wecomCredentials } from './credentials';
import { wecomManifest } from './manifest';
import { parseWeComRequest } from './parse';
import type { wecomReplyHandleSchema } from './reply-handle';
import { sendWeComReply } from './send';

export { computeMsgSignature, decryptMessage, deriveAesKey, encryptMessage } from './biz-msg-crypt';
export { RESPONSE_URL_LIFETIME_MS, WECOM_REPLY_ORIGIN, type WeComConfig } from './config';
export { WECOM_REPLY_LIMIT_BYTES } from './send';

/**
 * The WeCom AI bot (智能机器人, API mode) adapter: URL check, encrypted JSON callbacks, replies via `response_url`.
 * @throws ConfigError at creation when the token or EncodingAESKey is unusable.
 */
export function createWeComPlatform(config: WeComConfig, deps: AdapterDeps): ChatPlatform {
  const resolved = resolveWeComConfig(config);
  return withOneShotReplies({
    name: 'wecom',
    parse: (request, now) => parseWeComRequest(request, resolved, now),
    send: (reply) => sendWeComReply(reply, resolved, deps),
  });
}

export const wecomPlatform: PlatformDescriptor<'wecom', typeof wecomReplyHandleSchema, typeof wecomCredentials.schema> =
  {
    ...wecomManifest,
    create: ({ credentials, replyLimits, replyHandleOrigins, deps }) =>
      createWeComPlatform(
        { ...credentials, replyUrls: replyUrlAllowlist([WECOM_REPLY_ORIGIN], replyHandleOrigins), replyLimits },
        deps,
      ),
  };
