import type { AdapterDeps, ChatPlatform } from '#platforms/types';
import { resolveWeComConfig, type WeComConfig } from './config';
import { parseWeComRequest } from './parse';
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
  return {
    name: 'wecom',
    parse: (request, now) => parseWeComRequest(request, resolved, now),
    send: (reply) => sendWeComReply(reply, resolved, deps),
  };
}
