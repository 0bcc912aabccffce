import { type PlatformManifest, plainDuplicateAck } from '#platforms/manifest';
import { dingtalkCredentials } from './credentials';
import { dingtalkReplyHandleSchema } from './reply-handle';

/** DingTalk's deployment facts: every robot callback carries its `timestamp` and `sign` headers. */
export const dingtalkManifest: PlatformManifest<
  'dingtalk',
  typeof dingtalkCredentials.schema,
  typeof dingtalkReplyHandleSchema
> = {
  name: 'dingtalk',
  credentials: dingtalkCredentials,
  webhook: { methods: ['POST'], requiredHeaders: ['timestamp', 'sign'] },
  replyHandleSchema: dingtalkReplyHandleSchema,
  duplicateAck: plainDuplicateAck,
};
