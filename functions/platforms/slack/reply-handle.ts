import * as z from 'zod';

/** Where a Slack reply goes (`chat.postMessage`). Serialisable: it travels through SQS to the worker. */
export const slackReplyHandleSchema = z.object({
  platform: z.literal('slack'),
  channel: z.string(),
  /** `thread_ts` to reply in (the thread's root, or the message's own `ts` to start a thread). */
  threadTs: z.string().optional(),
});
