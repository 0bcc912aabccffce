import * as z from '#shared/zod';

/** Where a DingTalk reply goes. Serialisable: it travels through SQS to the worker. */
export const dingtalkReplyHandleSchema = z.object({
  platform: z.literal('dingtalk'),
  conversationId: z.string(),
  robotCode: z.optional(z.string()),
  /** `sessionWebhook` from the event, only when its origin is on the allowlist. */
  sessionWebhook: z.optional(z.string()),
  /** Epoch ms after which `sessionWebhook` must not be used (`sessionWebhookExpiredTime`). */
  sessionWebhookExpiresAt: z.optional(z.number()),
  /**
   * Where an AI card is delivered: a group (`conversationType` "2", by `conversationId`) or the robot's 1:1 chat with
   * the sender ("1", by `senderStaffId`). Optional so handles queued before streaming existed still parse; a handle
   * without them is answered with one plain message.
   */
  conversationType: z.optional(z.enum(['group', 'direct'])),
  /** The sender's `senderStaffId` (a 1:1 card's `IM_ROBOT` space); absent for senders outside the organisation. */
  senderStaffId: z.optional(z.string()),
});
