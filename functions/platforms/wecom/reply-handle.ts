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
  /**
   * The callback's `req_id` when the message came over the long connection: the reply goes through the relay to the
   * connector, which sends it on that socket as `aibot_respond_msg` (`relay.ts`); `responseUrl` is then never used.
   */
  reqId: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
