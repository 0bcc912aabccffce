import * as z from 'zod';

/** Where a DingTalk reply goes. Serialisable: it travels through SQS to the worker. */
export const dingtalkReplyHandleSchema = z.object({
  platform: z.literal('dingtalk'),
  conversationId: z.string(),
  robotCode: z.string().optional(),
  /** `sessionWebhook` from the event, only when its origin is on the allowlist. */
  sessionWebhook: z.string().optional(),
  /** Epoch ms after which `sessionWebhook` must not be used (`sessionWebhookExpiredTime`). */
  sessionWebhookExpiresAt: z.number().optional(),
});
