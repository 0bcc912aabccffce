import { type PlatformManifest, plainDuplicateAck } from '#platforms/manifest';
import { wecomCredentials } from './credentials';
import { wecomReplyHandleSchema } from './reply-handle';

/**
 * WeCom's deployment facts: the URL check is a GET carrying `echostr`, and every request (check or callback) is
 * signed in its query string.
 */
export const wecomManifest: PlatformManifest<'wecom', typeof wecomCredentials.schema, typeof wecomReplyHandleSchema> = {
  name: 'wecom',
  credentials: wecomCredentials,
  webhook: { methods: ['GET', 'POST'], requiredQueryParameters: ['msg_signature', 'timestamp', 'nonce'] },
  replyHandleSchema: wecomReplyHandleSchema,
  duplicateAck: plainDuplicateAck,
};
