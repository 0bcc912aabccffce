import type { PlatformManifest } from '#platforms/manifest';
import type { HttpResponse } from '#platforms/types';
import { slackCredentials } from './credentials';
import { slackReplyHandleSchema } from './reply-handle';

/** Slack's deployment facts: every Events API request, the URL check included, is signed and timestamped. */
export const slackManifest: PlatformManifest<'slack', typeof slackCredentials.schema, typeof slackReplyHandleSchema> = {
  name: 'slack',
  credentials: slackCredentials,
  webhook: { methods: ['POST'], requiredHeaders: ['X-Slack-Signature', 'X-Slack-Request-Timestamp'] },
  replyHandleSchema: slackReplyHandleSchema,
  duplicateAck: slackDuplicateAck,
};

/** Slack retries a delivery it got no timely 200 for; `X-Slack-No-Retry: 1` on a duplicate stops further retries. */
function slackDuplicateAck(ack: HttpResponse): HttpResponse {
  return { ...ack, headers: { ...ack.headers, 'x-slack-no-retry': '1' } };
}
