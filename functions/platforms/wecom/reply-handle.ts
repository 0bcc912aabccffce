import * as z from '#shared/zod';

/** Where a WeCom reply goes. Serialisable: it travels through SQS to the worker. */
export const wecomReplyHandleSchema = z.object({
  platform: z.literal('wecom'),
  chatId: z.string(),
  /** `response_url` from the callback (usable once, within 1 h), only when its origin is on the allowlist. */
  responseUrl: z.optional(z.string()),
  responseUrlExpiresAt: z.optional(z.number()),
  /**
   * The `stream.id` the webhook's answer to this message started (`stream-protocol.ts`); absent when it answered with
   * an empty ack. While WeCom polls it (until `streamUntil`) the reply is written to the stream, not `response_url`.
   */
  streamId: z.optional(z.string()),
  /** Epoch ms when WeCom stops polling the stream: 6 minutes after the callback was sent. */
  streamUntil: z.optional(z.number()),
});
