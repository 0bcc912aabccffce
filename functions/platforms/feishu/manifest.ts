import { type PlatformManifest, plainDuplicateAck } from '#platforms/manifest';
import { feishuCredentials } from './credentials';
import { feishuReplyHandleSchema } from './reply-handle';

/** Feishu's deployment facts. No required header: its `url_verification` without an encrypt key carries no signature. */
export const feishuManifest: PlatformManifest<
  'feishu',
  typeof feishuCredentials.schema,
  typeof feishuReplyHandleSchema
> = {
  name: 'feishu',
  credentials: feishuCredentials,
  webhook: { methods: ['POST'] },
  replyHandleSchema: feishuReplyHandleSchema,
  // Feishu has no "stop retrying" header: a duplicate gets the normal acknowledgement.
  duplicateAck: plainDuplicateAck,
};
