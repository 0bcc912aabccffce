import * as z from '#shared/zod';

/**
 * Where a Slack reply goes (`chat.postMessage`, or a `chat.startStream` stream). Serialisable: it travels through SQS
 * to the worker. The fields after `threadTs` were added for streaming and are optional, so messages queued before
 * them still parse; a handle without them is answered with a plain (edited) message instead of a native stream.
 */
export const slackReplyHandleSchema = z.object({
  platform: z.literal('slack'),
  channel: z.string(),
  /** `thread_ts` to reply in (the thread's root, or the message's own `ts` to start a thread). */
  threadTs: z.optional(z.string()),
  /** The member's message `ts`: what a stream replies to when the answer is not threaded (a DM). */
  messageTs: z.optional(z.string()),
  /** The member's workspace: `chat.startStream` `recipient_team_id`. */
  teamId: z.optional(z.string()),
  /** The member: `chat.startStream` `recipient_user_id`. */
  userId: z.optional(z.string()),
  /** A 1:1 DM (`channel_type: im`): streams there carry no recipient ids. */
  direct: z.optional(z.boolean()),
});
