import type { PlatformManifest } from '#platforms/manifest';
import { wecomCredentials } from './credentials';

/**
 * WeCom's deployment facts: the URL check is a GET carrying `echostr`, and every request (check or callback) is
 * signed in its query string.
 */
export const wecomManifest: PlatformManifest<'wecom', typeof wecomCredentials.schema> = {
  name: 'wecom',
  credentials: wecomCredentials,
  webhook: { methods: ['GET', 'POST'], requiredQueryParameters: ['msg_signature', 'timestamp', 'nonce'] },
};
