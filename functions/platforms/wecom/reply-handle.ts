import * as z from 'zod';

/** Where a WeCom reply goes. Serialisable: it travels through SQS to the worker. */
export const wecomReplyHandleSchema = z.object({
  platform: z.literal('wecom'),
  chatId: z.string(),
  /** `response_url` from the callback (usable once, within 1 h), only when its origin is on the allowlist. */
  responseUrl: z.string().optional(),
  responseUrlExpiresAt: z.number().optional(),
});
